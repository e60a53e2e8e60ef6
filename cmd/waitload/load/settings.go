package load

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/report"
)

// checkSettings reads jobwait's settings (GET /api/info) into the report and
// warns where the run's differ: waiters that keep another budget than the
// server's are clients that do not exist. A target that does not answer at
// all ends the run before it starts; one that answers anything but its
// settings (an older jobwait, a proxy that does not route it) is a warning.
func (r *run) checkSettings(ctx context.Context, jw *probe.Jobwait, rep *report.Report) error {
	info, err := jw.Info(ctx)
	var unreachable *url.Error // what http.Client.Do returns when there is no answer
	switch {
	case errors.As(err, &unreachable):
		return fmt.Errorf("-target %s unreachable: %w", r.cfg.Target, err)
	case err != nil:
		r.warn(rep, fmt.Sprintf("the server's settings not read (%v): -budget and -poll-interval not checked against them", err))
		return nil
	}
	budget := time.Duration(info.WaitBudgetMs) * time.Millisecond
	poll := time.Duration(info.PollIntervalMs) * time.Millisecond
	rep.Notify = info.Notify
	rep.ServerSettings = &report.ServerSettings{Demo: info.Demo, WaitBudgetSeconds: budget.Seconds(), PollIntervalSeconds: poll.Seconds()}
	if budget != r.cfg.Budget {
		what := "wait on after the server has let them go"
		if r.cfg.Budget < budget {
			what = "give up before the server would answer them"
		}
		r.warn(rep, fmt.Sprintf("-budget %v, but the server's wait budget is %v: the waiters %s", r.cfg.Budget, budget, what))
	}
	if poll != r.cfg.PollInterval {
		r.warn(rep, fmt.Sprintf("-poll-interval %v, but the server's poll interval is %v: "+
			"a short poll answered without Retry-After, and a stream that ends before sending retry:, waits %v", r.cfg.PollInterval, poll, r.cfg.PollInterval))
	}
	return nil
}

// warn keeps a warning about the whole run in the report and writes it out.
func (r *run) warn(rep *report.Report, msg string) {
	rep.Warnings = append(rep.Warnings, msg)
	if r.cfg.Warnings != nil {
		fmt.Fprintln(r.cfg.Warnings, "waitload: warning:", msg)
	}
}
