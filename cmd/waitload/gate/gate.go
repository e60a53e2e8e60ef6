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
	rule report.Check // as written without spaces; no Mode: every mode; no Value
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
	r := report.Check{Threshold: strings.Join(strings.Fields(s), ""), Op: s[i : i+1]}
	name, value := strings.TrimSpace(s[:i]), s[i+1:]
	if strings.HasPrefix(value, "=") {
		r.Op, value = r.Op+"=", value[1:]
	}
	value = strings.TrimSpace(value)
	if m, rest, ok := strings.Cut(name, "."); ok {
		r.Mode, name = waiter.Mode(m), rest
		if !slices.Contains(modes, r.Mode) {
			return fail("no mode %q; want poll, longpoll, sse or ssemany", m)
		}
	}
	met, ok := metrics[name]
	if !ok {
		return fail("no metric %q; want one of %s", name, strings.Join(metricNames, ", "))
	}
	r.Metric, r.Unit = name, met.unit
	if met.unit == "%" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
		if !strings.HasSuffix(value, "%") || err != nil || v < 0 || v > 100 {
			return fail("%s is a share of the mode's waiters: want a percentage from 0%% to 100%%, e.g. %s%s1%%", name, name, r.Op)
		}
		r.Limit = v
		return Threshold{r}, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return fail("%s is a latency: want a duration with its unit, e.g. %s%s250ms", name, name, r.Op)
	}
	r.Limit = float64(d) / float64(time.Millisecond)
	return Threshold{r}, nil
}

// Mode is the mode the threshold names; "" for every mode.
func (t Threshold) Mode() waiter.Mode { return t.rule.Mode }

// String is the threshold as written, without spaces: sse.p99<250ms.
func (t Threshold) String() string { return t.rule.Threshold }

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
	if slices.ContainsFunc(*l, func(o Threshold) bool { o.rule.Threshold = t.rule.Threshold; return o == t }) {
		return fmt.Errorf("-threshold %q: the same rule given twice", s)
	}
	*l = append(*l, t)
	return nil
}

// check measures the threshold on mode m.
func (t Threshold) check(m report.ModeReport) report.Check {
	c := t.rule
	c.Mode = m.Mode
	if v, ok := metrics[c.Metric].value(m); ok {
		c.Value, c.Passed = &v, ops[c.Op](v, c.Limit)
	}
	return c
}

// Judge checks every threshold against every mode it names, and each mode
// against the rule that most of its waits must not fail.
func Judge(rep *report.Report, ths []Threshold) report.Verdict {
	var v report.Verdict
	for _, m := range rep.Modes {
		if why := mostFailed(rep, m); why != "" {
			v.Failures = append(v.Failures, why)
		}
	}
	for _, t := range ths {
		for _, m := range rep.Modes {
			if t.Mode() != "" && t.Mode() != m.Mode {
				continue
			}
			c := t.check(m)
			v.Thresholds = append(v.Thresholds, c)
			if !c.Passed {
				v.Failures = append(v.Failures, fmt.Sprintf("%s failed on %s: %s", t, m.Mode, c.Measured()))
			}
		}
	}
	v.Passed = len(v.Failures) == 0
	return v
}

// mostFailed says why mode m failed the standing rule, if it did. Where
// waitload completed every job, a waiter that did not get its result
// failed; where it did not (jobs listed or created elsewhere), a timeout
// is the server's answer for a job not done within the budget, and only an
// error is a failure.
func mostFailed(rep *report.Report, m report.ModeReport) string {
	failed, what := m.Errors, "ended in an error"
	if rep.Completes() {
		failed, what = m.Waiters-m.Delivered, "did not get their result"
	}
	if 2*failed <= m.Waiters {
		return ""
	}
	var why []string
	if rep.Completes() && m.Timeouts > 0 {
		why = append(why, fmt.Sprintf("%d timed out", m.Timeouts))
	}
	if rep.Completes() && m.Failed > 0 {
		why = append(why, fmt.Sprintf("%d answered FAILED", m.Failed))
	}
	for i, k := range m.ErrorsByCount() {
		if i == 3 {
			why = append(why, fmt.Sprintf("%d more kinds of error", len(m.ErrorKinds)-i))
			break
		}
		why = append(why, fmt.Sprintf("%d × %s", m.ErrorKinds[k], k))
	}
	return fmt.Sprintf("%s: %d of %d waits %s (%s): most waits failed, so the run measured no server",
		m.Mode, failed, m.Waiters, what, strings.Join(why, "; "))
}
