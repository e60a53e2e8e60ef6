package server

import (
	"reflect"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/held"
	"jobwait/stream"
)

// many routes the many-job URLs, /api/events/jobs/status?ids=… and
// /api/events/jobs/stream?ids=…, cut by Server.jobs: action is the path
// past /api/events/jobs/.
func (s *Server) many(c *fiber.Ctx, action string) error {
	if err := jobRoute(c, action); err != nil {
		return err
	}
	c.Locals(routeKey, action+"-many")
	ids, err := parseIDs(c.Query("ids"), s.cfg.MaxIDs)
	if err != nil {
		return err
	}
	if action == "stream" {
		return s.manyStream(c, ids)
	}
	return s.manyStatus(c, ids)
}

// watchMany registers a waiter for every id at once (the hub batches the
// reads they need) and returns the waiters with the jobs' current answers,
// bounded by one Redis timeout. On error no waiter is left behind.
func (s *Server) watchMany(ids []string) ([]*stream.Waiter[*Answer], []*Answer, error) {
	ctx, cancel := s.redisCtx()
	defer cancel()
	ws := make([]*stream.Waiter[*Answer], len(ids))
	as := make([]*Answer, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { ws[i], as[i], errs[i] = s.hub.Watch(ctx, id) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			closeAll(ws)
			return nil, nil, err
		}
	}
	return ws, as, nil
}

func closeAll(ws []*stream.Waiter[*Answer]) {
	for _, w := range ws {
		if w != nil {
			w.Close()
		}
	}
}

// admitWatchMany admits one held waiter of a kind for the whole list (a
// many-job wait is one connection and one goroutine: it counts once toward
// MaxWaiters and MaxWaitersPerIP) and registers a hub waiter per job. done
// closes them and releases the admission; the caller calls it once.
func (s *Server) admitWatchMany(c *fiber.Ctx, kind string, ids []string) (ws []*stream.Waiter[*Answer], as []*Answer, done func(), err error) {
	release, err := s.admit(c, kind)
	if err != nil {
		return nil, nil, nil, err
	}
	ws, as, err = s.watchMany(ids)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return ws, as, func() { closeAll(ws); release() }, nil
}

// manyStatus answers GET /api/events/jobs/status?ids=…: a batched short
// poll, or with wait a long poll answered as soon as one listed job is
// final, or at the deadline with "timedOut": true.
func (s *Server) manyStatus(c *fiber.Ctx, ids []string) error {
	wait, err := parseWait(c.Query("wait"), s.cfg.WaitBudget)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.manyLongPoll(c, ids, wait)
	}
	ws, as, err := s.watchMany(ids)
	if err != nil {
		return err
	}
	closeAll(ws)
	return s.sendMany(c, ids, as)
}

func (s *Server) manyLongPoll(c *fiber.Ctx, ids []string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	ws, as, done, err := s.admitWatchMany(c, "longpoll-many", ids)
	if err != nil {
		return err
	}
	if anyFinal(as) {
		done()
		return s.sendMany(c, ids, as)
	}
	s.hold(c, deadline, done, func(h *held.Conn) {
		timedOut, ok := s.awaitAny(h, ws, as, deadline)
		if !ok {
			h.Gone()
			return
		}
		select {
		case <-s.quitCtx.Done(): // the connection will not be served again
			h.NoKeepAlive()
		default:
		}
		h.Reply(fiber.StatusOK, s.manyRetry(as), manyBody(ids, as, timedOut), false)
	})
	return nil
}

// awaitAny waits until one job's answer in as is final, the deadline or
// shutdown, keeping as current; ok is false when the client has gone.
func (s *Server) awaitAny(h *held.Conn, ws []*stream.Waiter[*Answer], as []*Answer, deadline time.Time) (timedOut, ok bool) {
	sel := newWakeSet(s, ws, deadline)
	defer sel.stop()
	for {
		switch i := sel.next(); i {
		case wakeQuit:
			return false, true
		case wakeDeadline:
			return true, true
		case wakeBeat:
			if h.PeerGone() {
				return false, false
			}
		default:
			a, at := ws[i].Latest()
			as[i] = a
			if a.Final() {
				s.metrics.woke(at)
				return false, true
			}
		}
	}
}

// sendMany answers a many-job status at once.
func (s *Server) sendMany(c *fiber.Ctx, ids []string, as []*Answer) error {
	return s.reply(c, &Answer{Code: fiber.StatusOK, Body: manyBody(ids, as, false)}, s.manyRetry(as))
}

// manyRetry is the Retry-After of a many-job answer: the poll interval
// while any listed job is still running, none once all are final.
func (s *Server) manyRetry(as []*Answer) int {
	for _, a := range as {
		if !a.Final() {
			return s.pollRetry()
		}
	}
	return 0
}

func anyFinal(as []*Answer) bool {
	for _, a := range as {
		if a.Final() {
			return true
		}
	}
	return false
}

// manyBody is {"jobs":[…]} with every job's body in order, each carrying
// its jobId, and "timedOut": true at the deadline.
func manyBody(ids []string, as []*Answer, timedOut bool) []byte {
	n := len(`{"jobs":[],"timedOut":true}`)
	for _, a := range as {
		n += len(a.Body) + 80
	}
	b := make([]byte, 0, n)
	b = append(b, `{"jobs":[`...)
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJobBody(b, ids[i], a)
	}
	b = append(b, ']')
	if timedOut {
		b = append(b, `,"timedOut":true`...)
	}
	return append(b, '}')
}

// appendJobBody appends a's body carrying the job's id: a job's body has
// it already; an error body ({"code","message"}: the job is gone or
// unreadable) gets it in front. ids are valid, so need no escaping.
func appendJobBody(b []byte, id string, a *Answer) []byte {
	if a.Status != "" {
		return append(b, a.Body...)
	}
	b = append(b, `{"jobId":"`...)
	b = append(b, id...)
	b = append(b, `",`...)
	return append(b, a.Body[1:]...)
}

// Fixed cases of a wakeSet; a waiter's case is its index in the list.
const (
	wakeQuit     = -1
	wakeDeadline = -2
	wakeBeat     = -3
)

// wakeSet selects over shutdown, a deadline, the heartbeat and many
// waiters' wake-up channels: one select in the held goroutine, no
// goroutine per job.
type wakeSet struct {
	timer *time.Timer
	beat  *time.Ticker
	cases []reflect.SelectCase // quit, deadline, beat, then one per waiter
}

const wakeFixed = 3

func newWakeSet(s *Server, ws []*stream.Waiter[*Answer], deadline time.Time) *wakeSet {
	w := &wakeSet{timer: time.NewTimer(time.Until(deadline)), beat: time.NewTicker(s.cfg.Heartbeat)}
	w.cases = make([]reflect.SelectCase, 0, wakeFixed+len(ws))
	for _, ch := range []any{s.quitCtx.Done(), w.timer.C, w.beat.C} {
		w.cases = append(w.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	for _, wt := range ws {
		w.cases = append(w.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(wt.C())})
	}
	return w
}

// next blocks until a case is ready and returns it: a waiter's index, or
// wakeQuit, wakeDeadline or wakeBeat.
func (w *wakeSet) next() int {
	i, _, _ := reflect.Select(w.cases)
	switch i {
	case 0:
		return wakeQuit
	case 1:
		return wakeDeadline
	case 2:
		return wakeBeat
	}
	return i - wakeFixed
}

// drop stops selecting on waiter i: its job has ended.
func (w *wakeSet) drop(i int) { w.cases[wakeFixed+i].Chan = reflect.Value{} }

func (w *wakeSet) stop() {
	w.timer.Stop()
	w.beat.Stop()
}
