package server

import (
	"strconv"
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

// chunkDigits is the fixed width of a chunk's hex size: the size is filled
// in after the event is written behind it (leading zeros are valid).
const chunkDigits = 8

// stream answers GET /api/events/jobs/{jobId}/stream. A bad id, a job that
// does not exist or cannot be read, and a full server are answered with JSON
// and no stream; a Last-Event-ID of a final event with 204.
func (s *Server) stream(c *fiber.Ctx, id string) error {
	r, resumed := parseEventID(c.Get("Last-Event-ID"))
	if resumed && r.final {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := streamDeadline(r, resumed, time.Now(), s.cfg.WaitBudget)
	release, err := s.admit(c, "sse")
	if err != nil {
		return err
	}
	w, a, err := s.watch(id)
	if err != nil {
		release()
		return err
	}
	if a.Status == "" || c.Method() == fiber.MethodHead {
		w.Close()
		release()
		if a.Status == "" {
			return s.send(c, a, a.Body)
		}
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return nil
	}
	st := &sseStream{srv: s, w: w, seq: r.seq, deadline: deadline}
	s.hold(c, func(h *held) bool {
		defer release()
		defer w.Close()
		st.h = h
		return st.run(a)
	})
	return nil
}

// sseStream is one open stream, run by its held connection's goroutine.
type sseStream struct {
	srv      *Server
	h        *held
	w        *stream.Waiter[*Answer]
	seq      uint64
	deadline time.Time
}

// run writes the stream: headers, retry, the current state, every change,
// and a final event. At each heartbeat a vanished client is noticed, else a
// keepalive comment is sent. It reports whether the response ended cleanly.
func (st *sseStream) run(first *Answer) bool {
	s := st.srv
	bp := bufs.Get().(*[]byte)
	b := st.h.head((*bp)[:0], fiber.StatusOK, "text/event-stream; charset=utf-8")
	b = append(b, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n"...)
	b = st.chunk(b, func(b []byte) []byte {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, s.cfg.PollInterval.Milliseconds(), 10)
		b = append(b, "\n\n"...)
		return st.event(b, first, first.Body)
	})
	err := st.h.write(b)
	*bp = b
	bufs.Put(bp)
	if err != nil {
		return false
	}
	last := first
	if last.Final() {
		return st.end()
	}
	timer := time.NewTimer(time.Until(st.deadline))
	defer timer.Stop()
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-st.w.C():
			a, at := st.w.Latest()
			if SameAnswer(a, last) {
				continue
			}
			last = a
			if !st.send(a, a.Body) {
				return false
			}
			s.metrics.woke(at)
			if a.Final() {
				return st.end()
			}
		case <-beat.C:
			if peerGone(st.h.conn) || !st.comment() {
				return false
			}
		case <-timer.C:
			timedOut := &Answer{Status: last.Status, Code: last.Code}
			return st.sendNamed(evTimeout, timedOut, last.TimedOut()) && st.end()
		case <-s.quit:
			// No final event: EventSource reconnects, with its
			// Last-Event-ID, to another replica. The response still
			// ends properly, so no proxy reports a broken upstream.
			st.end()
			return false
		}
	}
}

// send writes the event that announces a.
func (st *sseStream) send(a *Answer, body []byte) bool { return st.sendNamed("", a, body) }

// sendNamed writes one event as one chunk; name "" takes a's own name.
func (st *sseStream) sendNamed(name string, a *Answer, body []byte) bool {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	final := a.Final() || name == evTimeout
	b := st.chunk((*bp)[:0], func(b []byte) []byte { return st.frame(b, name, a, body, final) })
	*bp = b
	return st.h.write(b) == nil
}

// event appends the event that announces a.
func (st *sseStream) event(b []byte, a *Answer, body []byte) []byte {
	return st.frame(b, "", a, body, a.Final())
}

func (st *sseStream) frame(b []byte, name string, a *Answer, body []byte, final bool) []byte {
	if name == "" {
		name = eventName(a)
	}
	st.seq++
	b = append(b, "id: "...)
	b = appendEventID(b, st.deadline, st.seq, final)
	b = append(b, "\nevent: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, body...)
	return append(b, "\n\n"...)
}

// comment writes the keepalive comment.
func (st *sseStream) comment() bool {
	return st.h.write([]byte("0000000d\r\n: keepalive\n\n\r\n")) == nil
}

// end writes the last chunk: the response is complete.
func (st *sseStream) end() bool { return st.h.write([]byte("0\r\n\r\n")) == nil }

// chunk appends one chunk of HTTP/1.1 chunked encoding whose payload fill
// appends.
func (st *sseStream) chunk(b []byte, fill func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, "00000000\r\n"...)
	b = fill(b)
	n := len(b) - start - chunkDigits - 2
	const hex = "0123456789abcdef"
	for i := chunkDigits - 1; i >= 0; i-- {
		b[start+i] = hex[n&0xf]
		n >>= 4
	}
	return append(b, "\r\n"...)
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
