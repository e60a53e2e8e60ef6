package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/eventid"
	"jobwait/server/held"
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
	s.hold(c, deadline, done, func(h *held.Conn) {
		st.h = h
		st.run(a)
	})
	return nil
}

// sseStream is one open stream. Its fields after h are guarded by h's
// lock once the first event is written (held.Conn.Watch).
type sseStream struct {
	srv      *Server
	h        *held.Conn
	w        *stream.Waiter[*Answer]
	seq      uint64
	deadline time.Time
	last     *Answer // the state last written
}

// run writes the stream's head, retry and current state, then leaves the
// stream to go on without a goroutine (held.Conn.Watch): the fan-out
// writes every change (Change), the clock a keepalive comment at each
// heartbeat and the timeout event at the deadline, shutdown drops it. The
// status counted is the last event's answer's (a problem's 404 or 502).
func (st *sseStream) run(first *Answer) {
	s, h := st.srv, st.h
	pre, retry := h.StreamHead(s.cfg.PollInterval)
	if !st.event(pre, retry, eventName(first), first.Body, first.Final()) {
		return
	}
	h.Count(first.Code)
	st.last = first
	if !first.Final() {
		h.Watch(st, []held.Source{st.w}, s.cfg.Heartbeat, s.quitCtx)
	}
}

// Change writes the job's newest state if it is not the last one written;
// a final one ends the stream.
func (st *sseStream) Change(int) {
	a, at := st.w.Latest()
	if SameAnswer(a, st.last) {
		return
	}
	st.last = a
	if !st.event(nil, nil, eventName(a), a.Body, a.Final()) {
		return
	}
	st.h.Count(a.Code)
	st.srv.metrics.woke(at)
}

// Fire writes a keepalive comment at a heartbeat, the timeout event at the
// deadline, and drops the stream at shutdown.
func (st *sseStream) Fire(e held.Event) {
	switch e {
	case held.Beat:
		st.h.Keepalive()
	case held.Deadline:
		// A state the fan-out has not pushed here yet goes first: a final
		// one ends the stream instead of the timeout.
		if st.Change(0); !st.h.Over() {
			st.event(nil, nil, evTimeout, st.last.TimedOut(), true)
		}
	case held.Shutdown:
		st.h.Drop(st.srv.cfg.PollInterval)
	}
}

// event writes one event of the stream; see held.Conn.Event.
func (st *sseStream) event(pre, lead []byte, name string, body []byte, final bool) bool {
	st.seq++
	var idb [eventid.MaxLen]byte
	id := eventid.Append(idb[:0], st.deadline, st.seq, final)
	return st.h.Event(pre, lead, id, name, body, final)
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
