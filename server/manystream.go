package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/stream"
)

// manyStream answers GET /api/events/jobs/stream?ids=…: one stream for
// every listed job. Each job gets its current state at once, a status
// event on each change and one final event (completed, failed, problem, or
// timeout at the stream's one deadline); the stream ends when every job has
// ended. A Last-Event-ID (or ?lastEventId=) keeps the deadline and skips the
// jobs whose final event the client already has; when it has them all, 204.
func (s *Server) manyStream(c *fiber.Ctx, ids []string) error {
	r, resumed := parseManyEventID(lastEventID(c), len(ids))
	if resumed && r.done() {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := streamDeadline(resume{deadline: r.deadline}, resumed, time.Now(), s.cfg.WaitBudget)
	ended := r.ended
	if !resumed {
		ended = make([]bool, len(ids))
	}
	ws, as, done, err := s.admitWatchMany(c, "sse-many", ids)
	if err != nil {
		return err
	}
	if c.Method() == fiber.MethodHead {
		done()
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return nil
	}
	st := &manyStreamState{srv: s, ids: ids, ws: ws, last: as, ended: ended, seq: r.seq, deadline: deadline}
	s.hold(c, done, func(h *held) bool {
		st.h = h
		return st.run()
	})
	return nil
}

// manyStreamState is one open many-job stream, run by its held
// connection's goroutine.
type manyStreamState struct {
	srv      *Server
	h        *held
	ids      []string
	ws       []*stream.Waiter[*Answer]
	last     []*Answer // each job's last state sent
	ended    []bool    // each job's final event sent (or had by the client)
	seq      uint64
	deadline time.Time
}

// left is the number of jobs still to end.
func (st *manyStreamState) left() int {
	n := 0
	for _, e := range st.ended {
		if !e {
			n++
		}
	}
	return n
}

// run writes the stream: headers, retry, every job's current state, every
// change, and each job's final event. It reports whether the response
// ended cleanly.
func (st *manyStreamState) run() bool {
	s := st.srv
	pre := st.h.head(nil, fiber.StatusOK, "text/event-stream; charset=utf-8")
	pre = append(pre, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"...)
	if st.h.chunked {
		pre = append(pre, "Transfer-Encoding: chunked\r\n"...)
	}
	pre = append(pre, "\r\n"...)
	lead := strconv.AppendInt([]byte("retry: "), s.cfg.PollInterval.Milliseconds(), 10)
	lead = append(lead, "\n\n"...)

	sel := newWakeSet(s, st.ws, st.deadline)
	defer sel.stop()
	left := st.left()
	for i, a := range st.last {
		if st.ended[i] {
			// The client has its final event: nothing to watch.
			sel.drop(i)
			st.ws[i].Close()
			continue
		}
		if a.Final() {
			st.ended[i] = true
			left--
			sel.drop(i)
			st.ws[i].Close()
		}
		if !st.event(pre, lead, i, eventName(a), a, nil, left == 0) {
			return false
		}
		pre, lead = nil, nil
		if left == 0 {
			return st.h.chunked
		}
	}
	for {
		switch i := sel.next(); i {
		case wakeQuit:
			// No final event: EventSource reconnects, with its
			// Last-Event-ID, to another replica (see sseStream.run).
			if st.h.chunked {
				_ = st.h.write(lastChunk)
			}
			return false
		case wakeDeadline:
			for i := range st.ids {
				if st.ended[i] {
					continue
				}
				st.ended[i] = true
				left--
				if !st.event(nil, nil, i, evTimeout, st.last[i], st.last[i].TimedOut(), left == 0) {
					return false
				}
			}
			return st.h.chunked
		case wakeBeat:
			if peerGone(st.h.conn) || st.h.write(st.frame(keepalive)) != nil {
				return false
			}
		default:
			a, at := st.ws[i].Latest()
			if st.ended[i] || SameAnswer(a, st.last[i]) {
				continue
			}
			st.last[i] = a
			if a.Final() {
				st.ended[i] = true
				left--
				sel.drop(i)
				st.ws[i].Close()
			}
			if !st.event(nil, nil, i, eventName(a), a, nil, left == 0) {
				return false
			}
			s.metrics.woke(at)
			if left == 0 {
				return st.h.chunked
			}
		}
	}
}

// frame picks the chunked or the bare form of a fixed message.
func (st *manyStreamState) frame(m [2][]byte) []byte {
	if st.h.chunked {
		return m[0]
	}
	return m[1]
}

// event writes job i's event as one chunk in one writev, framed as
// sseStream.event frames a one-job stream's: pre (the response head) and
// lead (the retry line) before the first event, the last chunk after the
// stream's final one. The body is a's own, shared with every waiter, or
// body when given (a timeout's); an error body gets the job's id.
func (st *manyStreamState) event(pre, lead []byte, i int, name string, a *Answer, body []byte, final bool) bool {
	if body == nil {
		body = a.Body
		if a.Status == "" {
			body = appendJobBody(nil, st.ids[i], a)
		}
	}
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
	b = appendManyEventID(b, st.deadline, st.seq, st.ended, final)
	b = append(b, "\nevent: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	*bp = b
	if !st.h.chunked {
		return st.h.write(b, body, eventEnd[:2]) == nil
	}
	n := len(b) - start - chunkDigits - 2 + len(body) + 2 // the payload ends "\n\n"
	const hex = "0123456789abcdef"
	for k := chunkDigits - 1; k >= 0; k-- {
		b[start+k] = hex[n&0xf]
		n >>= 4
	}
	tail := eventEnd
	if final {
		tail = finalEnd
	}
	return st.h.write(b, body, tail) == nil
}
