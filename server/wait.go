package server

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/admission"
	"jobwait/stream"
)

// How a wait begins: its admission under the waiter caps (admit) and its
// hub waiter (watch).

// admit counts a held waiter of a kind ("longpoll", "sse") for the client
// of c, or refuses it past MaxWaiters or MaxWaitersPerIP.
func (s *Server) admit(c *fiber.Ctx, kind string) (release func(), err error) {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	key, err := s.waiters.Admit(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
	switch {
	case errors.Is(err, admission.ErrAddrFull):
		return nil, tooManyFromClient(s.pollRetry())
	case err != nil:
		return nil, tooManyWaiters(s.pollRetry())
	}
	g := s.metrics.waiters.WithLabelValues(kind)
	g.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.waiters.Release(key)
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
