package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/stream"
)

// longPoll holds GET .../status?wait=N until the job is final, the wait ends
// (the current answer with "timedOut": true) or the server shuts down (the
// current answer). A job that disappears answers JOB_001. A final job, or
// any error before the wait begins, is answered at once, and the
// connection stays open for the client's next request; a held wait's final
// answer closes it (see await).
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
		return s.await(h, w, deadline)
	})
	return nil
}

// await answers a held long poll: the final answer, its connection's
// last, written by the fan-out the moment it is read (push, see heldWait);
// the newest answer with "timedOut" at the deadline; the newest answer on
// shutdown, with Connection: close. A client found gone at a heartbeat ends
// it unanswered. It returns at once (endHeld): the wait goes on without a
// goroutine.
func (s *Server) await(h *heldConn, w *stream.Waiter[*Answer], deadline time.Time) ending {
	// reply answers with a, marked timed out (the client polls again), or
	// not. A final answer is its connection's last, as a stream's end is
	// (see streamHead): Connection: close, and the FIN rides with it (see
	// sendOnce), instead of a wake-up, a read and a timer for a next
	// request that a client whose job is over seldom sends.
	reply := func(a *Answer, timedOut bool) {
		body, last := a.Body, a.Final() && !timedOut
		if timedOut {
			body = a.TimedOut()
		}
		if last {
			h.keepAlive, h.more = false, !h.behind
		}
		err := h.answer(a.Code, s.retryFor(a), body)
		h.more = false
		switch {
		case err != nil:
			h.finish(endGone)
		case last:
			h.finish(endDone)
		default:
			h.finish(endReuse)
		}
	}
	hw := &heldWait{h: h, w: w,
		change: func() {
			if a, at := w.Latest(); a.Final() {
				reply(a, false)
				s.metrics.woke(at)
			}
		},
		fire: func(ended bool) {
			switch {
			case ended:
				// A final state the fan-out has not pushed here yet is
				// the answer, not a timeout.
				a, _ := w.Latest()
				reply(a, !a.Final())
			case peerGone(h.conn):
				h.finish(endGone)
			}
		},
		stop: func() {
			h.keepAlive = false // the connection will not be served again
			a, _ := w.Latest()
			reply(a, false)
		},
	}
	hw.start(deadline, s.cfg.Heartbeat, s.quitCtx)
	return endHeld
}
