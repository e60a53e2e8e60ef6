package stream

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// publishersEvery is how often the listener asks which nodes publish (and
// at once when a subscription fails).
const publishersEvery = time.Second

// healthEvery is how long a subscription may be silent before the hub
// pings through it; a second silent period without the PONG ends it.
const healthEvery = 5 * time.Second

// listener keeps a keyspace subscription on every publishing node (see
// Publishers in doc.go). listen's goroutine alone starts and stops the
// subscriptions (Hub.publishing), each in its own goroutine.
type listener[T any] struct {
	h          *Hub[T]
	shape      string          // Publishers.Shape as last subscribed
	configured map[string]bool // standby nodes given NotifyFlags, by name
	wg         sync.WaitGroup  // the subscription goroutines
	check      chan struct{}   // capacity one: a subscription failed, ask for the publishers now
}

// nodeSub is the subscription to one publishing node. Guarded by the hub's mu.
type nodeSub struct {
	name   string
	cancel context.CancelFunc
	state  subState
}

// subState is where a node's subscription stands: it starts neither
// confirmed nor failed, and then moves between live and down.
type subState uint8

const (
	subStarting subState = iota // neither confirmed nor failed yet
	subLive                     // confirmed and not failed since
	subDown                     // failed and not confirmed since
)

// listen keeps a keyspace subscription on every publishing node until ctx
// ends, and then waits for them to stop.
func (h *Hub[T]) listen(ctx context.Context) {
	l := &listener[T]{h: h, configured: make(map[string]bool), check: make(chan struct{}, 1)}
	t := time.NewTicker(publishersEvery)
	defer t.Stop()
	for {
		l.follow(ctx)
		select {
		case <-ctx.Done():
			l.resubscribe(ctx, nil)
			l.wg.Wait()
			return
		case <-t.C:
		case <-l.check:
		}
	}
}

// follow asks which nodes publish and, when their shape changed,
// subscribes to new ones, drops old ones and re-reads every watched job.
// An error is the subscriptions' to report.
func (l *listener[T]) follow(ctx context.Context) {
	p, err := l.h.cfg.Redis.Publishers(ctx)
	if err != nil {
		return
	}
	l.configure(ctx, p.Standby)
	if p.Shape == l.shape {
		return
	}
	first := l.shape == ""
	l.shape = p.Shape
	l.h.route(p)
	l.resubscribe(ctx, p.Masters)
	if first {
		return
	}
	l.h.mu.Lock()
	l.h.stats.Resyncs++
	l.h.resyncLocked(time.Now())
	l.h.mu.Unlock()
	names := make([]string, len(p.Masters))
	for i, n := range p.Masters {
		names[i] = n.Name
	}
	l.h.log.Info("keyspace publishers changed; watched jobs re-read", "masters", names)
}

// resubscribe makes the subscriptions those of masters.
func (l *listener[T]) resubscribe(ctx context.Context, masters []Node) {
	h := l.h
	h.mu.Lock()
	for name, s := range h.publishing {
		if !slices.ContainsFunc(masters, func(n Node) bool { return n.Name == name }) {
			s.cancel()
			delete(h.publishing, name)
		}
	}
	for _, n := range masters {
		if h.publishing[n.Name] != nil {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &nodeSub{name: n.Name, cancel: cancel}
		h.publishing[n.Name] = s
		l.wg.Go(func() {
			h.keepSubscribed(sctx, n, func() { h.listened(confirmed, s, nil) }, func(err error) {
				// The publishers are asked for now: a failed master may have been replaced.
				h.listened(lost, s, err)
				signal(l.check)
			})
		})
	}
	h.mu.Unlock()
	h.listened(regrouped, nil, nil)
}

// configure gives NotifyFlags to standby nodes seen for the first time, so
// that a promoted replica publishes at once; best effort, since a node is
// configured again before it is subscribed.
func (l *listener[T]) configure(ctx context.Context, standby []Node) {
	if l.h.cfg.TrustFlags {
		return
	}
	seen := make(map[string]bool, len(standby))
	for _, n := range standby {
		seen[n.Name] = true
		if l.configured[n.Name] {
			continue
		}
		if err := ensureNotify(ctx, n.Client, l.h.cfg.RoundTripTimeout); err != nil && ctx.Err() == nil {
			l.h.log.Debug("notify-keyspace-events not set", "node", n.Name, "err", err)
		}
	}
	l.configured = seen
}

// keepSubscribed holds a keyspace subscription on node n, re-created after
// every failure, until ctx ends. Unless TrustFlags, each attempt first
// makes sure the node publishes NotifyFlags (a restarted Redis forgot
// CONFIG SET, a promoted replica may never have had it), and a goroutine
// re-checks them meanwhile (guardFlags). confirmed runs on each
// confirmation, lost on each failure.
func (h *Hub[T]) keepSubscribed(ctx context.Context, n Node, confirmed func(), lost func(error)) {
	b := backoff{}
	gctx, stopGuard := context.WithCancel(ctx)
	var guard sync.WaitGroup
	defer guard.Wait()
	defer stopGuard()
	if !h.cfg.TrustFlags {
		guard.Go(func() { h.guardFlags(gctx, n) })
	}
	for ctx.Err() == nil {
		var err error
		if !h.cfg.TrustFlags {
			err = ensureNotify(ctx, n.Client, h.cfg.RoundTripTimeout)
		}
		if err == nil {
			ps := n.Client.Subscriber(ctx)
			stop := context.AfterFunc(ctx, func() { ps.Close() })
			err = h.session(ctx, n, ps, &b, confirmed)
			stop()
			ps.Close()
		}
		if ctx.Err() != nil {
			return
		}
		lost(err)
		b.sleep(ctx)
	}
}

// ensureNotify adds NotifyFlags on node c within timeout. A refusal is no
// failure: where CONFIG is refused the server's own setting is trusted.
func ensureNotify(ctx context.Context, c NodeClient, timeout time.Duration) error {
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, _, err := restoreFlags(ectx, c); err != nil && !isRefused(err) {
		return err
	}
	return nil
}

// receive reads the subscription until it fails: each event goes to the
// hub, every other reply (a confirmation, a PONG) to on.
func (h *Hub[T]) receive(ctx context.Context, ps Subscriber, on func(msg any)) error {
	prefixLen := len(channelPrefix(h.cfg.DB))
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, healthEvery)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok {
			if len(m.Channel) > prefixLen {
				h.event(m.Channel[prefixLen:], m.Payload, time.Now())
			}
			continue
		}
		on(msg)
	}
}
