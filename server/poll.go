package server

import (
	"context"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/auth"
	"jobwait/server/held"
	"jobwait/stream"
)

// status answers GET /api/events/jobs/{jobId}/status and the many-job
// /api/events/jobs/status?ids=…: a short poll, or a long poll when wait
// asks for one, held no longer than grant allows.
func (s *Server) status(c *fiber.Ctx, ids []string, one bool, grant auth.Grant) error {
	wait, err := parseWait(c.Query("wait"), s.cfg.WaitBudget)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.longPoll(c, ids, one, grant.Deadline(time.Now().Add(wait)))
	}
	as, err := s.read(ids)
	if err != nil {
		return err
	}
	return s.sendAll(c, ids, as, one)
}

// read reads jobs for a short poll through the hub (Peek: no
// subscription), which answers from what it knows and batches reads.
func (s *Server) read(ids []string) ([]*Answer, error) {
	as := make([]*Answer, len(ids))
	return as, s.eachJob(ids, func(ctx context.Context, i int, id string) (err error) {
		as[i], err = s.hub.Peek(ctx, id)
		return err
	})
}

// longPoll holds GET .../status?wait=N until a listed job is final, the
// deadline (the wait's or its token's end: the current answer with
// "timedOut": true) or shutdown (the current answer). A final job, or any
// error before the wait begins, is answered at once.
func (s *Server) longPoll(c *fiber.Ctx, ids []string, one bool, deadline time.Time) error {
	ws, as, done, err := s.admitWatch(c, "longpoll", ids, one)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(as, (*Answer).Final) {
		done()
		return s.sendAll(c, ids, as, one)
	}
	p := &pollScript{srv: s, ids: ids, ws: ws, as: as, one: one}
	s.hold(c, deadline, done, p.serve)
	return nil
}

// pollScript answers a held long poll (see longPoll).
type pollScript struct {
	srv *Server
	ids []string
	ws  []*stream.Waiter[*Answer]
	one bool
	h   *held.Conn
	as  []*Answer // each job's newest state
}

func (p *pollScript) serve(h *held.Conn) {
	p.h = h
	held.Watch(h, p, p.ws, p.srv.cfg.Heartbeat, p.srv.quitCtx)
}

// Change answers when job i is final.
func (p *pollScript) Change(i int) {
	a, at := p.ws[i].Latest()
	p.as[i] = a
	if a.Final() {
		p.reply(false)
		p.srv.metrics.woke(at)
	}
}

// Fire answers at the deadline (a final state the fan-out has not pushed
// here yet is the answer, not a timeout) and at shutdown.
func (p *pollScript) Fire(e held.Event) {
	if e == held.Beat {
		return
	}
	for i, w := range p.ws {
		p.as[i], _ = w.Latest()
	}
	p.reply(e == held.Deadline && !slices.ContainsFunc(p.as, (*Answer).Final))
}

// reply answers with the jobs' states. A one-job URL's final answer is
// its connection's last (Connection: close, the FIN riding with it), as a
// stream's end is: a client whose job is over seldom sends another request.
func (p *pollScript) reply(timedOut bool) {
	a, retry := p.srv.pollAnswer(p.ids, p.as, p.one, timedOut)
	p.h.Reply(a.Code, retry, a.Body, p.one && a.Final() && !timedOut)
}

// sendAll answers a poll at once.
func (s *Server) sendAll(c *fiber.Ctx, ids []string, as []*Answer, one bool) error {
	a, retry := s.pollAnswer(ids, as, one, false)
	return s.reply(c, a, retry)
}

// pollAnswer is a poll's answer, the one-job URL's job's own or the
// many-job one's {"jobs":[…]}, and its Retry-After: the poll interval
// while any job is still running, none (0) once all are final.
func (s *Server) pollAnswer(ids []string, as []*Answer, one, timedOut bool) (a *Answer, retry int) {
	a = as[0]
	switch {
	case !one:
		a = &Answer{Code: fiber.StatusOK, Body: manyBody(ids, as, timedOut)}
	case timedOut:
		a = &Answer{Status: a.Status, Code: a.Code, Body: a.TimedOut()}
	}
	if slices.ContainsFunc(as, func(a *Answer) bool { return !a.Final() }) {
		retry = s.pollRetry()
	}
	return a, retry
}

// pollRetry is the poll interval in whole seconds, at least one: the
// Retry-After of an answer that asks the client to come back.
func (s *Server) pollRetry() int { return max(1, int(s.cfg.PollInterval/time.Second)) }

// manyBody is {"jobs":[…]} with every job's body in order, each carrying
// its jobId, and "timedOut": true at the deadline.
func manyBody(ids []string, as []*Answer, timedOut bool) []byte {
	n := len(`{"jobs":[],"timedOut":true}`)
	for i, a := range as {
		n += len(a.Body) + len(`{"jobId":"",`) + len(ids[i])
	}
	b := append(make([]byte, 0, n), `{"jobs":[`...)
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJobBody(b, ids[i], a)
	}
	b = append(b, ']')
	if timedOut {
		b = append(b, `,"timedOut":true`...)
	}
	return append(b, '}')
}

// appendJobBody appends a's body carrying the job's id: a job's body has
// it already; an error body ({"code","message"}: the job is gone or
// unreadable) gets it in front. ids are valid, so need no escaping.
func appendJobBody(b []byte, id string, a *Answer) []byte {
	if a.Status != "" {
		return append(b, a.Body...)
	}
	b = append(append(append(b, `{"jobId":"`...), id...), `",`...)
	return append(b, a.Body[1:]...)
}
