package server

import (
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/stream"
)

// How a wait begins: its length (parseWait), its admission under the
// waiter caps (admit), and its hub waiter (watch).

// maxWaitText bounds the wait parameter's length: nothing longer is a
// sensible duration, and parsing stays cheap.
const maxWaitText = 32

// wellFormed matches what parseWait accepts but for its size: whole
// seconds, or a non-negative Go duration of any number of parts. A wait that
// matches but does not parse is too large to parse, and is the budget: every
// well-formed wait past the budget is clamped, however far past.
var wellFormed = regexp.MustCompile(`^[0-9]+$|^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// parseWait reads the wait query parameter: whole seconds ("30") or a Go
// duration ("15s", "1m"). Absent or zero is a short poll (0); more than the
// budget is the budget; anything else (negative, fractional seconds without a
// unit, garbage) is an error.
func parseWait(s string, budget time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > maxWaitText {
		return 0, badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")
	}
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n > uint64(budget/time.Second)+1 {
			return budget, nil
		}
		d = time.Duration(n) * time.Second
	} else {
		var err error
		d, err = time.ParseDuration(s)
		switch {
		case err != nil && wellFormed.MatchString(s):
			return budget, nil // too many seconds, or a duration past int64
		case err != nil || d < 0:
			return 0, badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")
		}
	}
	return min(d, budget), nil
}

// admit counts a held waiter of a kind ("longpoll", "sse") for the client
// of c, or refuses it past MaxWaiters or MaxWaitersPerIP.
func (s *Server) admit(c *fiber.Ctx, kind string) (release func(), err error) {
	if s.waiting.Add(1) > int64(s.cfg.MaxWaiters) {
		s.waiting.Add(-1)
		return nil, tooManyWaiters(s.pollRetry())
	}
	client, ok := s.limit.acquire(c)
	if !ok {
		s.waiting.Add(-1)
		return nil, tooManyFromClient(s.pollRetry())
	}
	g := s.metrics.waiters.WithLabelValues(kind)
	g.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.waiting.Add(-1)
			s.limit.release(client)
			g.Dec()
		})
	}, nil
}

// watch registers a waiter for id and returns the job's current answer,
// bounded by the Redis timeout.
func (s *Server) watch(id string) (*stream.Waiter[*Answer], *Answer, error) {
	ctx, cancel := s.redisCtx()
	defer cancel()
	return s.hub.Watch(ctx, id)
}

// admitWatch admits a held waiter of a kind and registers it for id; on
// error nothing is left held. done closes the waiter and releases its
// admission; the caller calls it once.
//
// Past a waiter cap the job is read once, as a short poll reads it: a job
// that does not exist, cannot be read or is final is answered truthfully
// (then a is final, w nil, and nothing is held), and only a job that would
// have to be held is refused SVC_001. The read costs Redis what a short
// poll does, and the client learns at once what no retry would change.
func (s *Server) admitWatch(c *fiber.Ctx, kind, id string) (w *stream.Waiter[*Answer], a *Answer, done func(), err error) {
	release, err := s.admit(c, kind)
	if err != nil {
		a, rerr := s.read(id)
		switch {
		case rerr != nil:
			return nil, nil, nil, rerr
		case a.Final():
			return nil, a, func() {}, nil
		}
		return nil, nil, nil, err
	}
	w, a, err = s.watch(id)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return w, a, func() { w.Close(); release() }, nil
}
