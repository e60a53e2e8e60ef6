package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/store"
	"jobwait/stream"
)

// SSE event names. A job that disappears or becomes unreadable mid-stream
// ends it with "problem" and the {"code","message"} body ("error" would be
// mistaken for EventSource's own error event).
const (
	evStatus    = "status"
	evCompleted = "completed"
	evFailed    = "failed"
	evTimeout   = "timeout"
	evProblem   = "problem"
)

// sse answers GET /api/events/jobs/{jobId}/stream. A bad id, a job that
// does not exist or cannot be read, and a full server are answered with JSON
// and no stream; a Last-Event-ID (or ?lastEventId=) of a final event with 204.
func (s *Server) sse(c *fiber.Ctx, id string) error {
	r, resumed := parseEventID(lastEventID(c))
	if resumed && r.final {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := streamDeadline(r, resumed, time.Now(), s.cfg.WaitBudget)
	w, a, done, err := s.admitWatch(c, "sse", id)
	if err != nil {
		return err
	}
	if a.Status == "" || c.Method() == fiber.MethodHead {
		done()
		if a.Status == "" {
			return s.send(c, a)
		}
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return nil
	}
	st := &sseStream{srv: s, w: w, seq: r.seq, deadline: deadline}
	s.holds.hold(c, deadline, done, func(h *heldConn) ending {
		st.h = h
		return st.run(a)
	})
	return nil
}

// sseStream is one open stream, run by its held connection's goroutine.
type sseStream struct {
	srv      *Server
	h        *heldConn
	w        *stream.Waiter[*Answer]
	seq      uint64
	deadline time.Time
}

// run writes the stream: headers, retry, the current state, every change,
// and a final event. At each heartbeat a vanished client is noticed, else a
// keepalive comment is sent. It reports how the response ended; the status
// counted is the last event's answer's (a problem's 404 or 502).
func (st *sseStream) run(first *Answer) ending {
	s := st.srv
	pre, retry := st.h.streamHead(s.cfg.PollInterval)
	if !st.event(pre, retry, eventName(first), first.Body, first.Final()) {
		return endGone
	}
	st.h.code = first.Code
	last := first
	if last.Final() {
		return st.h.streamEnd()
	}
	clock := newWaitClock(st.deadline, s.cfg.Heartbeat)
	defer clock.stop()
	for {
		select {
		case <-st.w.C():
			a, at := st.w.Latest()
			if SameAnswer(a, last) {
				continue
			}
			last = a
			if !st.event(nil, nil, eventName(a), a.Body, a.Final()) {
				st.h.code = codeGone
				return endGone
			}
			st.h.code = a.Code
			s.metrics.woke(at)
			if a.Final() {
				return st.h.streamEnd()
			}
		case <-clock.C():
			if !clock.fired() {
				if peerGone(st.h.conn) || st.h.write(st.h.frame(keepalive)) != nil {
					st.h.code = codeGone
					return endGone
				}
				continue
			}
			if !st.event(nil, nil, evTimeout, last.TimedOut(), true) {
				st.h.code = codeGone
				return endGone
			}
			return st.h.streamEnd()
		case <-s.quit:
			return st.h.dropStream(s.cfg.PollInterval)
		}
	}
}

// event writes one event of the stream; see heldConn.event.
func (st *sseStream) event(pre, lead []byte, name string, body []byte, final bool) bool {
	st.seq++
	var idb [maxEventIDLen]byte
	id := appendEventID(idb[:0], st.deadline, st.seq, final)
	return st.h.event(pre, lead, id, name, body, final)
}

func eventName(a *Answer) string {
	switch a.Status {
	case store.Completed:
		return evCompleted
	case store.Failed:
		return evFailed
	case "":
		return evProblem
	}
	return evStatus
}
