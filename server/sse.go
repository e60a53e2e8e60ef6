package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/eventid"
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
	r, resumed := eventid.Parse(lastEventID(c))
	if resumed && r.Final {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := eventid.Deadline(r.Deadline, resumed, time.Now(), s.cfg.WaitBudget)
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
	st := &sseStream{srv: s, w: w, seq: r.Seq, deadline: deadline}
	s.holds.hold(c, deadline, done, func(h *heldConn) ending {
		st.h = h
		return st.run(a)
	})
	return nil
}

// sseStream is one open stream (see heldWait). Its fields after h are
// guarded by h.mu once the first event is written.
type sseStream struct {
	srv      *Server
	h        *heldConn
	w        *stream.Waiter[*Answer]
	seq      uint64
	deadline time.Time
	last     *Answer // the state last written
}

// run writes the stream's head, retry and current state, then leaves the
// stream to go on without a goroutine (heldWait): the fan-out writes every
// change (step), the clock a keepalive comment at each heartbeat (a
// vanished client is noticed then) and the timeout event at the deadline,
// shutdown drops it. The status counted is the last event's answer's (a
// problem's 404 or 502).
func (st *sseStream) run(first *Answer) ending {
	s, h := st.srv, st.h
	pre, retry := h.streamHead(s.cfg.PollInterval)
	if !st.event(pre, retry, eventName(first), first.Body, first.Final()) {
		return endGone
	}
	h.code = first.Code
	st.last = first
	if first.Final() {
		return h.streamEnd()
	}
	hw := &heldWait{h: h, w: st.w, change: st.step, fire: st.beat,
		stop: func() { h.finish(h.dropStream(s.cfg.PollInterval)) }}
	hw.start(st.deadline, s.cfg.Heartbeat, s.quitCtx)
	return endHeld
}

// step writes the job's newest state if it is not the last one written,
// and ends the stream after a final one.
func (st *sseStream) step() {
	h := st.h
	a, at := st.w.Latest()
	if SameAnswer(a, st.last) {
		return
	}
	st.last = a
	if !st.event(nil, nil, eventName(a), a.Body, a.Final()) {
		h.finish(endGone)
		return
	}
	h.code = a.Code
	st.srv.metrics.woke(at)
	if a.Final() {
		h.finish(h.streamEnd())
	}
}

// beat is the clock's: a heartbeat (a vanished client ends the stream,
// else a keepalive comment), or the wait's end, a timeout event.
func (st *sseStream) beat(ended bool) {
	h := st.h
	if !ended {
		if peerGone(h.conn) || h.write(h.frame(keepalive)) != nil {
			h.finish(endGone)
		}
		return
	}
	// A state the fan-out has not pushed here yet goes first: a final one
	// ends the stream instead of the timeout.
	if st.step(); h.over {
		return
	}
	switch {
	case !st.event(nil, nil, evTimeout, st.last.TimedOut(), true):
		h.finish(endGone)
	default:
		h.finish(h.streamEnd())
	}
}

// event writes one event of the stream; see heldConn.event.
func (st *sseStream) event(pre, lead []byte, name string, body []byte, final bool) bool {
	st.seq++
	var idb [eventid.MaxLen]byte
	id := eventid.Append(idb[:0], st.deadline, st.seq, final)
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
