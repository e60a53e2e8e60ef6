package server

import (
	"cmp"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/auth"
	"jobwait/server/eventid"
	"jobwait/server/held"
	"jobwait/store"
	"jobwait/stream"
)

// stream answers GET /api/events/jobs/{jobId}/stream and the many-job
// /api/events/jobs/stream?ids=…: each job's current state at once, a
// status event on each change and one final event (completed, failed,
// problem, or timeout at the one deadline), ended with its last job. A
// Last-Event-ID keeps the deadline and skips the jobs it proves ended (a
// many-job id, only for the same set of ids); when it proves them all,
// 204. A full server, and on the one-job URL a job that cannot be waited
// for, are answered with JSON and no stream.
func (s *Server) stream(c *fiber.Ctx, ids []string, one bool, grant auth.Grant) error {
	st := &sseStream{srv: s, ids: ids, one: one, grant: grant}
	var resumed bool
	if one {
		r, ok := eventid.Parse(lastEventID(c))
		st.deadline, st.seq, st.ended, resumed = r.Deadline, r.Seq, []bool{r.Final}, ok
	} else {
		r, ok := eventid.ParseMany(lastEventID(c), s.cfg.MaxIDs)
		st.list = eventid.NewList(ids)
		st.deadline, st.seq, resumed = r.Deadline, r.Seq, ok
		st.ended, _ = st.list.Ended(r) // none when not resumed
	}
	for _, e := range st.ended {
		if !e {
			st.left++
		}
	}
	if st.left == 0 {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	st.deadline = eventid.Deadline(st.deadline, resumed, time.Now(), s.cfg.WaitBudget)
	ws, last, done, err := s.admitWatch(c, "sse", ids, one)
	switch {
	case err != nil:
		return err
	case one && last[0].Status == "":
		done()
		return s.reply(c, last[0], 0)
	case c.Method() == fiber.MethodHead:
		done()
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return nil
	}
	st.ws, st.last = ws, last
	s.hold(c, grant.Deadline(st.deadline), done, st.serve)
	return nil
}

// sseStream is one open stream; its fields after h are guarded by h's
// lock once it is watched (held.Watch).
type sseStream struct {
	srv      *Server
	ids      []string
	ws       []*stream.Waiter[*Answer]
	deadline time.Time    // the stream's own, which its event ids carry
	grant    auth.Grant   // the token's: held until grant.Deadline(deadline)
	one      bool         // the one-job URL: its ids, bodies and counted statuses
	list     eventid.List // many jobs: ids as the event ids see them

	h     *held.Conn
	last  []*Answer // each job's last state sent
	ended []bool    // each job's final event sent (or had by the client)
	left  int       // jobs not ended
	seq   uint64
}

// serve writes the stream's head and every job's current state, then
// leaves it to the jobs' changes, its clock and shutdown.
func (st *sseStream) serve(h *held.Conn) {
	st.h = h
	pre, lead := h.StreamHead(st.srv.cfg.PollInterval)
	for i, a := range st.last {
		if st.ended[i] {
			closeAll(st.ws[i : i+1]) // the client has its final event
			continue
		}
		if !st.send(pre, lead, i, a) || st.left == 0 {
			return
		}
		pre, lead = nil, nil
	}
	held.Watch(h, st, st.ws, st.srv.cfg.Heartbeat, st.srv.quitCtx)
}

// Change writes job i's newest state if it is not the last one written.
func (st *sseStream) Change(i int) {
	if st.ended[i] || st.h.Over() {
		return
	}
	a, at := st.ws[i].Latest()
	if !SameAnswer(a, st.last[i]) && st.send(nil, nil, i, a) {
		st.srv.metrics.woke(at)
	}
}

// Fire writes a keepalive at a heartbeat, at the deadline a timeout event
// for each job still running (or a problem AUTH_001 at the token's expiry,
// when it came first), and drops the stream at shutdown.
func (st *sseStream) Fire(e held.Event) {
	switch e {
	case held.Beat:
		st.h.Keepalive()
	case held.Deadline:
		// A state the fan-out has not pushed here yet goes first: a final
		// one ends its job instead of the timeout.
		for i := range st.ids {
			st.Change(i)
		}
		if st.grant.Deadline(st.deadline).Before(st.deadline) {
			// One problem AUTH_001 for the whole stream (no jobId: it is no
			// job's end), its id not final and marking no more jobs ended,
			// so that a client that reconnects from it with a fresh token
			// goes on with the same wait.
			if !st.h.Over() {
				st.write(nil, nil, "problem", tokenExpired, false, true)
				st.count(ErrTokenRefused.Status)
			}
			return
		}
		for i := range st.ids {
			if !st.ended[i] && !st.h.Over() {
				st.end(i)
				st.write(nil, nil, "timeout", st.last[i].TimedOut(), st.left == 0, st.left == 0)
			}
		}
	case held.Shutdown:
		st.h.Drop(st.srv.cfg.PollInterval)
	}
}

// send writes job i's state a as its event; a final one ends the job, and
// the stream with its last job.
func (st *sseStream) send(pre, lead []byte, i int, a *Answer) bool {
	st.last[i] = a
	if a.Final() {
		st.end(i)
	}
	body := a.Body
	if !st.one && a.Status == "" {
		body = appendJobBody(nil, st.ids[i], a)
	}
	last := a.Final() && st.left == 0
	if !st.write(pre, lead, cmp.Or(eventNames[a.Status], "status"), body, last, last) {
		return false
	}
	st.count(a.Code)
	return true
}

// count sets the status counted: the answer's on the one-job URL (a
// problem's 404 or 502), else 200.
func (st *sseStream) count(code int) {
	if !st.one {
		code = fiber.StatusOK
	}
	st.h.Count(code)
}

// end marks job i ended, its final event being sent, and stops watching it.
func (st *sseStream) end(i int) {
	st.ended[i] = true
	st.left--
	closeAll(st.ws[i : i+1])
}

// write writes an event whose id is final (nothing is left for a client
// resuming from it) or not, and that ends the stream when last. A many-job
// stream's id names the jobs ended so far.
func (st *sseStream) write(pre, lead []byte, name string, body []byte, final, last bool) bool {
	st.seq = eventid.NextSeq(st.seq)
	var idb [2 * eventid.MaxLen]byte // a many-job id of up to 260 jobs
	id := idb[:0]
	if st.one {
		id = eventid.Append(id, st.deadline, st.seq, final)
	} else {
		id = eventid.AppendMany(id, st.deadline, st.seq, st.list, st.ended, final)
	}
	return st.h.Event(pre, lead, id, name, body, last)
}

// eventNames name the final events by the job's status; any other state's
// is "status". A job gone or unreadable ends with "problem" and the
// {"code","message"} body ("error" would be taken for EventSource's own).
var eventNames = map[store.Status]string{store.Completed: "completed", store.Failed: "failed", "": "problem"}

// tokenExpired is the body of the problem event that ends a stream at its
// token's expiry, made once.
var tokenExpired = ErrTokenRefused.answer().Body
