package server

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/held"
	"jobwait/stream"
)

// longPoll holds GET .../status?wait=N until a job is final (the one-job
// URL's job; for the many-job one, any listed job), the wait ends at
// deadline (the current answer with "timedOut": true; the end of the wait
// or of its token, whichever comes first) or the server shuts down (the
// current answer). A job that disappears answers JOB_001. A final job, or
// any error before the wait begins, is answered at once, and the
// connection stays open for the client's next request; a one-job URL's
// held final answer closes it (see pollScript.reply).
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

// pollScript answers a held long poll of one job (one) or many: as soon as
// a job is final, from the fan-out; with "timedOut" at the deadline; with
// the jobs' newest states on shutdown.
type pollScript struct {
	srv *Server
	ids []string
	ws  []*stream.Waiter[*Answer]
	one bool // the one-job URL: the job's own answer; else {"jobs":[…]}

	h  *held.Conn
	as []*Answer // each job's newest state
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
	final := false
	for i, w := range p.ws {
		p.as[i], _ = w.Latest()
		final = final || p.as[i].Final()
	}
	p.reply(e == held.Deadline && !final)
}

// reply answers with the jobs' states, marked timed out (the client polls
// again), or not. A one-job URL's final answer is its connection's last,
// as a stream's end is: Connection: close, and the FIN rides with it,
// instead of a wake-up, a read and a timer for a next request that a
// client whose job is over seldom sends.
func (p *pollScript) reply(timedOut bool) {
	if !p.one {
		p.h.Reply(fiber.StatusOK, p.srv.manyRetry(p.as), manyBody(p.ids, p.as, timedOut), false)
		return
	}
	a, body := p.as[0], p.as[0].Body
	if timedOut {
		body = a.TimedOut()
	}
	p.h.Reply(a.Code, p.srv.retryFor(a), body, a.Final() && !timedOut)
}
