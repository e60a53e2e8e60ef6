package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/held"
	"jobwait/stream"
)

// longPoll holds GET .../status?wait=N until the job is final, the wait ends
// (the current answer with "timedOut": true) or the server shuts down (the
// current answer). A job that disappears answers JOB_001. A final job, or
// any error before the wait begins, is answered at once, and the
// connection stays open for the client's next request; a held wait's final
// answer closes it (see pollScript).
func (s *Server) longPoll(c *fiber.Ctx, id string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	w, a, done, err := s.admitWatch(c, "longpoll", id)
	if err != nil {
		return err
	}
	if a.Final() {
		done()
		return s.send(c, a)
	}
	p := &pollScript{srv: s, w: w}
	s.hold(c, deadline, done, func(h *held.Conn) {
		p.h = h
		h.Watch(p, []held.Source{w}, s.cfg.Heartbeat, s.quitCtx)
	})
	return nil
}

// hold takes c's connection over for a wait ending at end (see
// held.Takeover.Hold): done releases the wait's hub waiters and admission,
// and the wait is counted in the metrics once, with the status it sent.
func (s *Server) hold(c *fiber.Ctx, end time.Time, done func(), serve func(h *held.Conn)) {
	route, _ := c.Locals(routeKey).(string)
	c.Locals(heldKey, true) // counted when the wait ends, not by the metrics middleware
	s.held.Hold(c, end, func(code int) { done(); s.metrics.sent(route, code) }, serve)
}

// pollScript answers a held long poll: the final answer, its connection's
// last, written by the fan-out the moment it is read; the newest answer
// with "timedOut" at the deadline; the newest answer on shutdown. A client
// found gone at a heartbeat ends it unanswered (held.Conn.Watch).
type pollScript struct {
	srv *Server
	h   *held.Conn
	w   *stream.Waiter[*Answer]
}

// Change answers a final state.
func (p *pollScript) Change(int) {
	if a, at := p.w.Latest(); a.Final() {
		p.reply(a, false)
		p.srv.metrics.woke(at)
	}
}

// Fire answers at the deadline (a final state the fan-out has not pushed
// here yet is the answer, not a timeout) and at shutdown.
func (p *pollScript) Fire(e held.Event) {
	switch e {
	case held.Deadline:
		a, _ := p.w.Latest()
		p.reply(a, !a.Final())
	case held.Shutdown:
		a, _ := p.w.Latest()
		p.reply(a, false)
	}
}

// reply answers with a, marked timed out (the client polls again), or
// not. A final answer is its connection's last, as a stream's end is:
// Connection: close, and the FIN rides with it, instead of a wake-up, a
// read and a timer for a next request that a client whose job is over
// seldom sends.
func (p *pollScript) reply(a *Answer, timedOut bool) {
	body := a.Body
	if timedOut {
		body = a.TimedOut()
	}
	p.h.Reply(a.Code, p.srv.retryFor(a), body, a.Final() && !timedOut)
}
