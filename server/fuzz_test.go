package server

// Fuzz tests of what a client sends that is parsed by hand (the wait
// parameter; Last-Event-ID's are eventid's, the forwarded-for chain's
// admission's) and of rendering whatever a producer stored. Their seed corpora run in the normal suite;
// run one for real with
//
//	go test -run XXX -fuzz '^FuzzParseWait$' -fuzztime 60s ./server
//
// (or `make fuzz`, which runs each). A crash is kept under testdata/fuzz.

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"jobwait/store"
)

func FuzzParseWait(f *testing.F) {
	for _, s := range []string{
		"", "0", "1", "30", "31", "15s", "1m", "1h", "1000h", "-1", "-5s", "1.5", "1.5s", "0.5s",
		"1e9", "NaN", "Inf", "0x10", "+5", " 5", "5 ", "30s;DROP", "%00", "\x00", "s", "1ns",
		"18446744073709551615", "18446744073709551616", "99999999999999999999",
		"9223372036854775807ns", "9223372036854775808ns", strings.Repeat("9", 40),
		"2562047h47m16.854775808s", "9999999999h9999999999m", "1h1h1h",
	} {
		f.Add(s)
	}
	const budget = 30 * time.Second
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseWait(s, budget)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Code != "REQ_001" || e.Status != 400 {
				t.Fatalf("parseWait(%q) error %v; want REQ_001", s, err)
			}
			return
		}
		if d < 0 || d > budget {
			t.Fatalf("parseWait(%q) = %v; want 0 to %v", s, d, budget)
		}
		if s == "" && d != 0 {
			t.Fatalf("parseWait(%q) = %v; want 0", s, d)
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= 30 && d != time.Duration(n)*time.Second {
			t.Fatalf("parseWait(%q) = %v; want %ds", s, d, n)
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add("COMPLETED", []byte(`{"trendAnalysis":{"summary":"s"},"recommendations":[{"title":"t"}]}`), "")
	f.Add("FAILED", []byte(`{}`), "모델 오류")
	f.Add("FAILED", []byte(`{}`), "\xff\xfe</script>")
	f.Add("PENDING", []byte(`{}`), "")
	f.Add("PROCESSING", []byte(`{}`), "")
	f.Add("COMPLETED", []byte(`{"trendAnalysis":"\u2028<b>","recommendations":[]}`), "")
	f.Fuzz(func(t *testing.T, status string, result []byte, failure string) {
		var r store.Result
		if json.Unmarshal(result, &r) != nil {
			return
		}
		sn := &store.Snapshot{Job: store.Job{Status: store.Status(status), EventDraftID: "d"}, Result: &r, Error: failure}
		if !sn.Job.Status.Valid() {
			sn.Err = store.ErrCorrupt
		}
		a := render("job-1", sn)
		switch a.Code {
		case 200, 404, 502:
		default:
			t.Fatalf("render status %q: code %d", status, a.Code)
		}
		for _, body := range [][]byte{a.Body, a.TimedOut()} {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("render status %q: body %.120q is not a JSON object: %v", status, body, err)
			}
		}
	})
}
