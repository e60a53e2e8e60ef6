package server

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/eventid"
	"jobwait/server/held"
	"jobwait/stream"
)

// manyStream answers GET /api/events/jobs/stream?ids=…: one stream for
// every listed job. Each job gets its current state at once, a status
// event on each change and one final event (completed, failed, problem, or
// timeout at the stream's one deadline); the stream ends when every job has
// ended. A Last-Event-ID (or ?lastEventId=) keeps the deadline and skips the
// jobs it proves the client has the final event of, which only an id
// written for the same set of ids can; when it proves them all, 204.
func (s *Server) manyStream(c *fiber.Ctx, ids []string) error {
	list := eventid.NewList(ids)
	r, resumed := eventid.ParseMany(lastEventID(c), s.cfg.MaxIDs)
	ended, proved := make([]bool, len(ids)), false
	if resumed {
		ended, proved = list.Ended(r)
	}
	if proved && !slices.Contains(ended, false) {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
	deadline := eventid.Deadline(r.Deadline, resumed, time.Now(), s.cfg.WaitBudget)
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
	st := &manyStreamState{srv: s, ids: ids, list: list, ws: ws, last: as, ended: ended, seq: r.Seq, deadline: deadline}
	s.hold(c, deadline, done, func(h *held.Conn) {
		st.h = h
		st.run()
	})
	return nil
}

// manyStreamState is one open many-job stream, run by its held
// connection's goroutine.
type manyStreamState struct {
	srv      *Server
	h        *held.Conn
	ids      []string
	list     eventid.List // ids as the event ids see them
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
// change, and each job's final event. The status counted is 200 once the
// head is written.
func (st *manyStreamState) run() {
	s := st.srv
	pre, lead := st.h.StreamHead(s.cfg.PollInterval)

	sel := newWakeSet(s, st.ws, st.deadline)
	defer sel.stop()
	left := st.left()
	for i, a := range st.last {
		if st.ended[i] {
			st.unwatch(sel, i) // the client has its final event
			continue
		}
		if a.Final() {
			st.ended[i] = true
			left--
			st.unwatch(sel, i)
		}
		if !st.event(pre, lead, i, eventName(a), a, nil, left == 0) {
			return
		}
		pre, lead = nil, nil
		st.h.Count(fiber.StatusOK)
		if left == 0 {
			return
		}
	}
	for {
		switch i := sel.next(); i {
		case wakeQuit:
			st.h.Drop(s.cfg.PollInterval)
			return
		case wakeDeadline:
			for i := range st.ids {
				if st.ended[i] {
					continue
				}
				st.ended[i] = true
				left--
				if !st.event(nil, nil, i, evTimeout, st.last[i], st.last[i].TimedOut(), left == 0) {
					return
				}
			}
			return
		case wakeBeat:
			if st.h.PeerGone() {
				st.h.Gone()
				return
			}
			if !st.h.Keepalive() {
				return
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
				st.unwatch(sel, i)
			}
			if !st.event(nil, nil, i, eventName(a), a, nil, left == 0) {
				return
			}
			s.metrics.woke(at)
			if left == 0 {
				return
			}
		}
	}
}

// unwatch stops watching job i, whose final event is sent or had.
func (st *manyStreamState) unwatch(sel *wakeSet, i int) {
	sel.drop(i)
	st.ws[i].Close()
}

// event writes job i's event (see held.Conn.Event), the id naming the jobs ended
// so far. The body is a's own, shared with every waiter, or body when given
// (a timeout's); an error body gets the job's id.
func (st *manyStreamState) event(pre, lead []byte, i int, name string, a *Answer, body []byte, final bool) bool {
	if body == nil {
		body = a.Body
		if a.Status == "" {
			body = appendJobBody(nil, st.ids[i], a)
		}
	}
	st.seq = eventid.NextSeq(st.seq)
	id := eventid.AppendMany(make([]byte, 0, eventid.ManyLen(len(st.ids))), st.deadline, st.seq, st.list, st.ended, final)
	return st.h.Event(pre, lead, id, name, body, final)
}
