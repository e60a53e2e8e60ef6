package load

import (
	"context"
	"os"
	"time"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/producer"
	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
)

func newReport(cfg Config) *report.Report {
	source, from := report.JobsWritten, report.FromCompletion
	switch {
	case len(cfg.IDs) > 0:
		source, from = report.JobsListed, report.FromRequest
	case cfg.CreateURL != "":
		source, from = report.JobsCreated, report.FromRequest
	}
	return &report.Report{
		Started: time.Now().UTC(), Target: cfg.Target, Redis: cfg.RedisURL,
		Settings: report.Settings{
			Server: cfg.Server, Waiters: cfg.Waiters, Jobs: cfg.Jobs, Rate: cfg.Rate,
			BudgetSeconds: cfg.Budget.Seconds(), PollSeconds: cfg.PollInterval.Seconds(),
			HoldSeconds: cfg.Hold.Seconds(), SettleSeconds: cfg.Settle.Seconds(), Sources: cfg.Sources, Procs: cfg.Procs,
			DialConcurrency: cfg.DialConcurrency, Tokens: len(cfg.TokenSecret) > 0, JobSource: source, LatencyFrom: from,
		},
	}
}

// fillWaiters counts the outcomes and computes the latencies: a delivered
// waiter's receipt minus its job's completion, on each clock, when
// waitload completed the jobs (completes); else minus its first request.
func fillWaiters(mr *report.ModeReport, outs []waiter.Outcome, comps []producer.Completion, completes bool, peak int) {
	mr.HeldPeak = peak
	var lat, sent, due []time.Duration
	for _, o := range outs {
		mr.Requests += o.Requests
		mr.Rejected += o.Rejected
		switch o.Kind {
		case waiter.Delivered:
			if !completes {
				mr.Delivered++
				lat = append(lat, o.At.Sub(o.Asked))
				continue
			}
			if o.Job < len(comps) && !comps[o.Job].Done.IsZero() {
				c := comps[o.Job]
				mr.Delivered++
				mr.Deliveries = append(mr.Deliveries, report.Delivery{Job: o.Job, Due: c.Due, Sent: c.Sent, Done: c.Done, Received: o.At})
				lat = append(lat, o.At.Sub(c.Done))
				sent = append(sent, o.At.Sub(c.Sent))
				due = append(due, o.At.Sub(c.Due))
				continue
			}
			o.Err = "delivered a job whose completion was not recorded"
		case waiter.Failed:
			mr.Failed++
			continue
		case waiter.TimedOut:
			mr.Timeouts++
			continue
		}
		mr.Errors++
		if mr.ErrorKinds == nil {
			mr.ErrorKinds = map[string]int{}
		}
		mr.ErrorKinds[o.Err]++
	}
	mr.Latency = report.Summarize(lat)
	mr.LatencySent = report.Summarize(sent)
	mr.LatencyDue = report.Summarize(due)
	mr.LatencyCurve = report.Curve(lat, 100)
}

func redisFigures(hold, completion probe.CmdStats, completed, producerCmds int) report.Redis {
	r := report.Redis{
		HoldCommands: hold.Total(),
		Commands:     completion.Total(),
		Producer:     int64(producerCmds * completed),
		Reads:        completion.Reads(),
		ByCommand:    completion,
	}
	r.Net = r.Commands - r.Producer
	if completed > 0 {
		r.PerJob = float64(r.Commands) / float64(completed)
		r.NetPerJob = float64(r.Net) / float64(completed)
		r.ReadsPerJob = float64(r.Reads) / float64(completed)
	}
	return r
}

// cpuReading is the CPU time the server's processes, Redis and this process
// have used so far.
type cpuReading struct{ server, redis, client time.Duration }

func (r *run) readCPU(ctx context.Context) (cpuReading, error) {
	var c cpuReading
	var err error
	if len(r.cfg.CPUPids) > 0 {
		if c.server, err = probe.ProcCPU(r.cfg.CPUPids); err != nil {
			return c, err
		}
	}
	if r.cfg.Procs == 1 {
		if c.client, err = probe.ProcCPU([]int{os.Getpid()}); err != nil {
			return c, err
		}
	}
	if r.rdb != nil {
		c.redis, err = probe.RedisCPU(ctx, r.rdb)
	}
	return c, err
}

// since is the CPU used between start and c.
func (c cpuReading) since(start cpuReading) report.CPU {
	return report.CPU{
		ServerMs: float64(c.server-start.server) / float64(time.Millisecond),
		RedisMs:  float64(c.redis-start.redis) / float64(time.Millisecond),
		ClientMs: float64(c.client-start.client) / float64(time.Millisecond),
	}
}
