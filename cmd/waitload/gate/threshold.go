package gate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
)

// Threshold is one pass/fail rule, [MODE.]METRIC OP VALUE: checked against
// the named mode, or against each mode run when none is named.
type Threshold struct {
	text   string      // as written, without spaces
	mode   waiter.Mode // "": every mode
	metric string
	op     string
	limit  float64 // in the metric's unit
}

// metric is a figure a threshold can name, in its unit.
type metric struct {
	unit  string // "%" of the mode's waiters, or "ms"
	value func(m report.ModeReport) (float64, bool)
}

// share is a count as a per cent of the mode's waiters.
func share(n func(m report.ModeReport) int) metric {
	return metric{"%", func(m report.ModeReport) (float64, bool) {
		return 100 * float64(n(m)) / float64(max(m.Waiters, 1)), true
	}}
}

// latency is a latency figure, which exists only once something was delivered.
func latency(v func(l report.Latency) float64) metric {
	return metric{"ms", func(m report.ModeReport) (float64, bool) { return v(m.Latency), m.Latency.Count > 0 }}
}

// metrics are the figures thresholds can name, in the order help lists them.
var (
	metricNames = []string{"delivered", "answered", "failed", "errors", "timeouts", "p50", "p90", "p99", "max"}
	metrics     = map[string]metric{
		"delivered": share(func(m report.ModeReport) int { return m.Delivered }),
		"answered":  share(func(m report.ModeReport) int { return m.Delivered + m.Failed }),
		"failed":    share(func(m report.ModeReport) int { return m.Failed }),
		"errors":    share(func(m report.ModeReport) int { return m.Errors }),
		"timeouts":  share(func(m report.ModeReport) int { return m.Timeouts }),
		"p50":       latency(func(l report.Latency) float64 { return l.P50 }),
		"p90":       latency(func(l report.Latency) float64 { return l.P90 }),
		"p99":       latency(func(l report.Latency) float64 { return l.P99 }),
		"max":       latency(func(l report.Latency) float64 { return l.Max }),
	}
	modes = []waiter.Mode{waiter.ModePoll, waiter.ModeLongPoll, waiter.ModeSSE, waiter.ModeSSEMany}
	ops   = map[string]func(v, limit float64) bool{
		"<":  func(v, limit float64) bool { return v < limit },
		"<=": func(v, limit float64) bool { return v <= limit },
		">":  func(v, limit float64) bool { return v > limit },
		">=": func(v, limit float64) bool { return v >= limit },
	}
)

// Syntax is the help text of -threshold.
const Syntax = "[MODE.]METRIC OP VALUE, e.g. sse.p99<250ms, errors<1%, delivered>=99%: " +
	"METRIC a share of the mode's waiters (delivered, answered, failed, errors, timeouts; VALUE in %) " +
	"or a delivery latency (p50, p90, p99, max; VALUE a duration); OP <, <=, > or >=; " +
	"without MODE, every mode run must meet it"

// Parse reads a threshold; its errors say what is wrong and how to write it.
func Parse(s string) (Threshold, error) {
	fail := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("-threshold %q: %s", s, fmt.Sprintf(format, a...))
	}
	i := strings.IndexAny(s, "<>")
	if i < 0 {
		return fail("want [MODE.]METRIC OP VALUE with OP one of <, <=, >, >=; e.g. sse.p99<250ms or errors<1%%")
	}
	t := Threshold{text: strings.Join(strings.Fields(s), "")}
	name, value := strings.TrimSpace(s[:i]), s[i+1:]
	t.op = s[i : i+1]
	if strings.HasPrefix(value, "=") {
		t.op, value = t.op+"=", value[1:]
	}
	value = strings.TrimSpace(value)
	if m, rest, ok := strings.Cut(name, "."); ok {
		t.mode, name = waiter.Mode(m), rest
		if !slices.Contains(modes, t.mode) {
			return fail("no mode %q; want poll, longpoll, sse or ssemany", m)
		}
	}
	t.metric = name
	met, ok := metrics[name]
	if !ok {
		return fail("no metric %q; want one of %s", name, strings.Join(metricNames, ", "))
	}
	if met.unit == "%" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
		if !strings.HasSuffix(value, "%") || err != nil || v < 0 || v > 100 {
			return fail("%s is a share of the mode's waiters: want a percentage from 0%% to 100%%, e.g. %s%s1%%", name, name, t.op)
		}
		t.limit = v
		return t, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return fail("%s is a latency: want a duration with its unit, e.g. %s%s250ms", name, name, t.op)
	}
	t.limit = float64(d) / float64(time.Millisecond)
	return t, nil
}

// Mode is the mode the threshold names; "" for every mode.
func (t Threshold) Mode() waiter.Mode { return t.mode }

// String is the threshold as written, without spaces: sse.p99<250ms.
func (t Threshold) String() string { return t.text }

// List is the thresholds of a command line: a flag.Value for a repeated
// -threshold, which refuses the same rule twice.
type List []Threshold

func (l *List) String() string { return fmt.Sprint(*l) }

// Set parses a threshold and adds it.
func (l *List) Set(s string) error {
	t, err := Parse(s)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(*l, func(o Threshold) bool { o.text = t.text; return o == t }) {
		return fmt.Errorf("-threshold %q: the same rule given twice", s)
	}
	*l = append(*l, t)
	return nil
}

// check measures the threshold on mode m.
func (t Threshold) check(m report.ModeReport) report.Check {
	met := metrics[t.metric]
	c := report.Check{Threshold: t.String(), Mode: m.Mode, Metric: t.metric, Op: t.op, Limit: t.limit, Unit: met.unit}
	if v, ok := met.value(m); ok {
		c.Value, c.Passed = &v, ops[t.op](v, t.limit)
	}
	return c
}
