package servertest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one reading of jobwait's /metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// ReadMetrics reads base's /metrics with Prometheus's own text parser.
func ReadMetrics(base string) (Metrics, error) {
	c := http.Client{Timeout: 5 * time.Second}
	return MetricsFrom(c.Get(base + "/metrics"))
}

// ReadMetricsOn reads /metrics with a request written on c: a connection
// to jobwait opened before it reached its connection cap, where a new one
// would be refused and an idle kept-alive one reclaimed. c carries that
// one request and is closed.
func ReadMetricsOn(c net.Conn) (Metrics, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, RawGet("/metrics", "Connection: close")); err != nil {
		return nil, err
	}
	return MetricsFrom(http.ReadResponse(bufio.NewReader(c), nil))
}

// MetricsFrom parses an answer to GET /metrics as a client returns it (an
// http.Client's Get, a fiber app's Test).
func MetricsFrom(resp *http.Response, err error) (Metrics, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	return m, nil
}

// Metric is the Sum of name's series with labels on base's /metrics; -1
// when it cannot be read.
func Metric(base, name string, labels ...string) float64 {
	m, err := ReadMetrics(base)
	if err != nil {
		return -1
	}
	return m.Sum(name, labels...)
}

// Sum is the sum of name's counter, gauge or untyped series whose labels
// include labels (name, value pairs); 0 when there is none.
func (m Metrics) Sum(name string, labels ...string) float64 {
	sum := 0.0
series:
	for _, s := range m[name].GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		// A series has one of these; the others' getters read 0.
		sum += s.GetGauge().GetValue() + s.GetCounter().GetValue() + s.GetUntyped().GetValue()
	}
	return sum
}

// Names are the names the series stand under, as a query names them: a
// histogram's name_bucket, name_sum and name_count, a summary's name too.
func (m Metrics) Names() map[string]bool {
	names := map[string]bool{}
	for name, f := range m {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}
