package server

import (
	"bufio"
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

// stream answers GET /api/events/jobs/{jobId}/stream. Everything the stream
// needs is copied out of c before the writer runs: fasthttp reuses c.
func (s *Server) stream(c *fiber.Ctx, id string) error {
	r, resumed := parseEventID(c.Get("Last-Event-ID"))
	if resumed && r.final {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := streamDeadline(r, resumed, time.Now(), s.cfg.WaitBudget)
	release, err := s.admit("sse")
	if err != nil {
		return err
	}
	w, a, err := s.watch(id)
	if err != nil {
		release()
		return err
	}
	if a.Status == "" { // no such job, or unreadable: JSON, no stream
		w.Close()
		release()
		return s.send(c, a, a.Body)
	}
	h := &c.Response().Header
	h.SetContentType("text/event-stream; charset=utf-8")
	h.Set(fiber.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if c.Method() == fiber.MethodHead {
		w.Close()
		release()
		return nil
	}
	st := &sseStream{
		srv: s, w: w, first: a, seq: r.seq, deadline: deadline, release: release,
		retry: []byte("retry: " + strconv.FormatInt(s.cfg.PollInterval.Milliseconds(), 10) + "\n\n"),
	}
	c.Context().SetBodyStreamWriter(st.run)
	return nil
}

// sseStream is one open stream; it lives in the body writer's goroutine.
type sseStream struct {
	srv      *Server
	w        *stream.Waiter[*Answer]
	first    *Answer
	seq      uint64
	deadline time.Time
	release  func()
	retry    []byte
}

// run writes the stream: retry, the current state, every change, and a
// final event; a heartbeat comment keeps proxies from closing it and makes
// a vanished client's flush fail, which ends the stream.
func (st *sseStream) run(bw *bufio.Writer) {
	defer st.release()
	defer st.w.Close()
	s := st.srv
	bw.Write(st.retry)
	last := st.first
	if !st.event(bw, last, last.Body) || last.Final() {
		return
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
			ok := st.event(bw, a, a.Body)
			s.metrics.woke(at)
			if !ok || a.Final() {
				return
			}
		case <-beat.C:
			bw.WriteString(": keepalive\n\n")
			if bw.Flush() != nil {
				return
			}
		case <-timer.C:
			st.write(bw, evTimeout, last.TimedOut(), true)
			return
		case <-s.quit:
			return
		}
	}
}

// event writes the event that announces a, and flushes.
func (st *sseStream) event(bw *bufio.Writer, a *Answer, body []byte) bool {
	name := evStatus
	switch a.Status {
	case store.Completed:
		name = evCompleted
	case store.Failed:
		name = evFailed
	case "":
		name = evProblem
	}
	return st.write(bw, name, body, a.Final())
}

// write writes one event with the next id and flushes; false means the
// client is gone.
func (st *sseStream) write(bw *bufio.Writer, name string, data []byte, final bool) bool {
	st.seq++
	bw.WriteString("id: ")
	bw.WriteString(eventID(st.deadline, st.seq, final))
	bw.WriteString("\nevent: ")
	bw.WriteString(name)
	bw.WriteString("\ndata: ")
	bw.Write(data)
	bw.WriteString("\n\n")
	return bw.Flush() == nil
}
