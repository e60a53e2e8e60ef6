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
// and no stream; a Last-Event-ID (or ?lastEventId=) of a final event with 204.
func (s *Server) stream(c *fiber.Ctx, id string) error {
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
	s.hold(c, done, func(h *held) bool {
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
	pre := st.h.head(nil, fiber.StatusOK, "text/event-stream; charset=utf-8")
	pre = append(pre, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"...)
	if st.h.chunked {
		pre = append(pre, "Transfer-Encoding: chunked\r\n"...)
	}
	pre = append(pre, "\r\n"...)
	retry := strconv.AppendInt([]byte("retry: "), s.cfg.PollInterval.Milliseconds(), 10)
	retry = append(retry, "\n\n"...)
	if !st.event(pre, retry, eventName(first), first.Body, first.Final()) {
		return false
	}
	last := first
	if last.Final() {
		return st.h.chunked
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
			if !st.event(nil, nil, eventName(a), a.Body, a.Final()) {
				return false
			}
			s.metrics.woke(at)
			if a.Final() {
				return st.h.chunked
			}
		case <-beat.C:
			if peerGone(st.h.conn) || st.h.write(st.frame(keepalive)) != nil {
				return false
			}
		case <-timer.C:
			return st.event(nil, nil, evTimeout, last.TimedOut(), true) && st.h.chunked
		case <-s.quit:
			// No final event: EventSource reconnects, with its
			// Last-Event-ID, to another replica. The response still
			// ends properly, so no proxy reports a broken upstream.
			if st.h.chunked {
				_ = st.h.write(lastChunk)
			}
			return false
		}
	}
}

// keepalive is the heartbeat comment, as one chunk and bare (HTTP/1.0);
// lastChunk ends a chunked response.
var (
	keepalive = [2][]byte{[]byte("0000000d\r\n: keepalive\n\n\r\n"), []byte(": keepalive\n\n")}
	lastChunk = []byte("0\r\n\r\n")
)

// frame picks the chunked or the bare form of a fixed message.
func (st *sseStream) frame(m [2][]byte) []byte {
	if st.h.chunked {
		return m[0]
	}
	return m[1]
}

// event writes one event as one chunk in one writev: pre (the response
// head, before the first event) outside the chunk, lead (the retry line)
// inside it before the event, and for a final event the last chunk after
// it. The body is the answer's own, shared by every waiter: never copied.
// On HTTP/1.0 there are no chunks: the stream ends with the connection.
func (st *sseStream) event(pre, lead []byte, name string, body []byte, final bool) bool {
	bp := bufs.Get().(*[]byte)
	defer putBuf(bp)
	b := append((*bp)[:0], pre...)
	start := len(b)
	if st.h.chunked {
		b = append(b, "00000000\r\n"...)
	}
	b = append(b, lead...)
	st.seq++
	b = append(b, "id: "...)
	b = appendEventID(b, st.deadline, st.seq, final)
	b = append(b, "\nevent: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	*bp = b
	if !st.h.chunked {
		return st.h.write(b, body, eventEnd[:2]) == nil
	}
	n := len(b) - start - chunkDigits - 2 + len(body) + 2 // the payload ends "\n\n"
	const hex = "0123456789abcdef"
	for i := chunkDigits - 1; i >= 0; i-- {
		b[start+i] = hex[n&0xf]
		n >>= 4
	}
	tail := eventEnd
	if final {
		tail = finalEnd
	}
	return st.h.write(b, body, tail) == nil
}

// eventEnd ends an event and its chunk; finalEnd also ends the response.
var (
	eventEnd = []byte("\n\n\r\n")
	finalEnd = []byte("\n\n\r\n0\r\n\r\n")
)

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
