package gate

import (
	"fmt"
	"strings"

	"jobwait/cmd/waitload/report"
)

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
			if t.mode != "" && t.mode != m.Mode {
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
