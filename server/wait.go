package server

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/admission"
	"jobwait/server/held"
	"jobwait/stream"
)

// How a wait begins: its admission under the waiter caps, its hub waiters
// (admitWatch), and the takeover of its connection (hold).

// admit counts a held waiter of a kind ("longpoll", "sse") for the client
// of c, or refuses it past MaxWaiters or MaxWaitersPerIP; release, called
// once, lets it go.
func (s *Server) admit(c *fiber.Ctx, kind string) (release func(), err error) {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	key, err := s.waiters.Admit(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
	switch {
	case errors.Is(err, admission.ErrAddrFull):
		return nil, busy(msgTooManyFromClient, s.pollRetry())
	case err != nil:
		return nil, busy(msgTooManyWaiters, s.pollRetry())
	}
	g := s.metrics.waiters.WithLabelValues(kind)
	g.Inc()
	return func() {
		s.waiters.Release(key)
		g.Dec()
	}, nil
}

// eachJob calls f for every id (with its index) within one Redis timeout:
// a single id in the caller's goroutine, more at once, so that the hub
// batches the reads they need. It returns the first error, by index.
func (s *Server) eachJob(ids []string, f func(ctx context.Context, i int, id string) error) error {
	ctx, cancel := s.redisCtx()
	defer cancel()
	if len(ids) == 1 {
		return f(ctx, 0, ids[0])
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = f(ctx, i, id) })
	}
	wg.Wait()
	return cmp.Or(errs...)
}

func closeAll(ws []*stream.Waiter[*Answer]) {
	for _, w := range ws {
		if w != nil { // nil: never made, or a final job read past the waiter cap
			w.Close()
		}
	}
}

// admitWatch admits one held waiter of a kind ("-many" for a many-job
// URL), however many jobs, and registers a hub waiter per job, returned
// with the jobs' current answers; on error nothing is held. done, called
// once, closes them and releases the admission.
//
// Past a waiter cap a one-job URL's job is read as a short poll reads it:
// one that is gone, unreadable or final is answered truthfully (its waiter
// nil, nothing held), and only one that would be held is refused SVC_001:
// the client learns at once what no retry would change.
func (s *Server) admitWatch(c *fiber.Ctx, kind string, ids []string, one bool) (ws []*stream.Waiter[*Answer], as []*Answer, done func(), err error) {
	if !one {
		kind += "-many"
	}
	release, err := s.admit(c, kind)
	if err != nil {
		if !one {
			return nil, nil, nil, err
		}
		as, rerr := s.read(ids)
		switch {
		case rerr != nil:
			return nil, nil, nil, rerr
		case as[0].Final():
			return make([]*stream.Waiter[*Answer], 1), as, func() {}, nil
		}
		return nil, nil, nil, err
	}
	ws, as = make([]*stream.Waiter[*Answer], len(ids)), make([]*Answer, len(ids))
	done = func() { closeAll(ws); release() }
	err = s.eachJob(ids, func(ctx context.Context, i int, id string) (err error) {
		ws[i], as[i], err = s.hub.Watch(ctx, id)
		return err
	})
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return ws, as, done, nil
}

// hold takes c's connection over for a wait ending at end (see
// held.Takeover.Hold): done releases the wait's hub waiters and admission,
// and the wait is counted in the metrics once, with the status it sent.
func (s *Server) hold(c *fiber.Ctx, end time.Time, done func(), serve func(h *held.Conn)) {
	route, _ := c.Locals(routeKey).(string)
	c.Locals(heldKey, true) // counted when the wait ends, not by the metrics middleware
	s.held.Hold(c, end, func(code int) { done(); s.metrics.sent(route, code) }, serve)
}
