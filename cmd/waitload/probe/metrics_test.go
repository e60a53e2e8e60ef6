package probe

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 2034
process_resident_memory_bytes 4.5875e+07
jobwait_waiters{kind="longpoll"} 3
jobwait_waiters{kind="sse"} 1000
jobwait_http_requests_total{code="200",route="status"} 12 1700000000000
weird{label="a } b"} 5
no_value
bad_value NaNa
jobwait_hub_job_reads_total 42
`
	got := parseMetrics(text)
	want := map[string]float64{
		"go_goroutines":                 2034,
		"process_resident_memory_bytes": 45875000,
		"jobwait_waiters":               1003,
		"jobwait_http_requests_total":   12,
		"weird":                         5,
		"jobwait_hub_job_reads_total":   42,
	}
	assert.Equal(t, want, got)
}

func TestParseCmdStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_get:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_set:calls=40,usec=200,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_broken:usec=1\r\n"
	got := parseCmdStats(info)
	assert.Equal(t, CmdStats{"get": 120, "set": 40, "client|setinfo": 2, "info": 3}, got)

	before := CmdStats{"get": 100, "set": 40, "info": 1}
	d := got.Sub(before)
	assert.Equal(t, CmdStats{"get": 20, "client|setinfo": 2}, d, "delta leaves out INFO and unchanged commands")
	assert.Equal(t, int64(22), d.Total())
	assert.Equal(t, int64(20), d.Reads())
}

func TestBytesSent(t *testing.T) {
	out := "0      0      127.0.0.1:6379 127.0.0.1:44546\n" +
		"\t bbr wscale:10,10 rto:204 cwnd:12 bytes_sent:69 bytes_acked:69 bytes_received:28 segs_out:3\n" +
		"0      0      127.0.0.1:6379 127.0.0.1:44550\n" +
		"\t cubic bytes_sent:1000 bytes_received:10\n"
	got := bytesSent(out)
	want := map[string]int64{"44546": 69, "44550": 1000}
	if len(got) != len(want) || got["44546"] != 69 || got["44550"] != 1000 {
		t.Errorf("bytesSent = %v; want %v", got, want)
	}
	f := clientFields("id=3 addr=127.0.0.1:44546 laddr=127.0.0.1:6379 flags=P sub=2 psub=0 cmd=subscribe")
	if f["addr"] != "127.0.0.1:44546" || f["flags"] != "P" || f["sub"] != "2" {
		t.Errorf("clientFields = %v", f)
	}
}
