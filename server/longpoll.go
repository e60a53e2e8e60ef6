package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/stream"
)

// longPoll holds GET .../status?wait=N until the job is final, the wait ends
// (the current answer with "timedOut": true) or the server shuts down (the
// current answer). A job that disappears answers JOB_001. A final job, or
// any error before the wait begins, is answered at once.
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
	s.holds.hold(c, deadline, done, func(h *heldConn) ending {
		a, body, ok := s.await(h, w, a, deadline)
		select {
		case <-s.quit: // the connection will not be served again
			h.keepAlive = false
		default:
		}
		if !ok || h.answer(a.Code, s.retryFor(a), body) != nil {
			return endGone
		}
		return endReuse
	})
	return nil
}

// await waits for a final answer, the deadline or shutdown, and returns the
// answer and the body to send; ok is false when the client has gone.
func (s *Server) await(h *heldConn, w *stream.Waiter[*Answer], a *Answer, deadline time.Time) (*Answer, []byte, bool) {
	clock := newWaitClock(deadline, s.cfg.Heartbeat)
	defer clock.stop()
	for {
		select {
		case <-w.C():
			var at time.Time
			a, at = w.Latest()
			if a.Final() {
				s.metrics.woke(at)
				return a, a.Body, true
			}
		case <-clock.C():
			if clock.fired() {
				return a, a.TimedOut(), true
			}
			if peerGone(h.conn) {
				return a, nil, false
			}
		case <-s.quit:
			return a, a.Body, true
		}
	}
}
