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
// subscriptions, each in its own goroutine reporting through confirmed and
// lost.
type listener[T any] struct {
	h          *Hub[T]
	shape      string          // Publishers.Shape as last subscribed
	configured map[string]bool // standby nodes given NotifyFlags, by name
	wg         sync.WaitGroup  // the subscription goroutines
	check      chan struct{}   // capacity one: a subscription failed, ask for the publishers now

	mu   sync.Mutex
	subs map[string]*nodeSub // the current publishers' subscriptions, by name
}

// nodeSub is the subscription to one publishing node.
type nodeSub struct {
	name   string
	cancel context.CancelFunc
	state  subState // guarded by listener.mu
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
// ends.
func (h *Hub[T]) listen(ctx context.Context) {
	l := &listener[T]{h: h, configured: make(map[string]bool), subs: make(map[string]*nodeSub), check: make(chan struct{}, 1)}
	defer l.stop(ctx)
	t := time.NewTicker(publishersEvery)
	defer t.Stop()
	for {
		l.follow(ctx)
		select {
		case <-ctx.Done():
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

// resubscribe makes the subscriptions those of masters. The goroutines it
// starts report under l.mu, so only after the regrouping is told.
func (l *listener[T]) resubscribe(ctx context.Context, masters []Node) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, s := range l.subs {
		if !slices.ContainsFunc(masters, func(n Node) bool { return n.Name == name }) {
			s.cancel()
			delete(l.subs, name)
		}
	}
	for _, n := range masters {
		if l.subs[n.Name] != nil {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &nodeSub{name: n.Name, cancel: cancel}
		l.subs[n.Name] = s
		l.wg.Go(func() {
			l.h.keepSubscribed(sctx, n, func() { l.confirmed(s) }, func(err error) { l.lost(s, err) })
		})
	}
	l.tellLocked(news{what: regrouped})
}

// confirmed: a node's subscription is (again) confirmed.
func (l *listener[T]) confirmed(s *nodeSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.state = subLive
	if l.subs[s.name] != s {
		l.tellLocked(news{what: regrouped})
		return
	}
	l.tellLocked(news{what: confirmed, node: s.name})
}

// lost: a node's subscription failed. The publishers are asked for now,
// since a failed master may have been replaced.
func (l *listener[T]) lost(s *nodeSub, err error) {
	l.mu.Lock()
	current := l.subs[s.name] == s
	was, first := s.state == subLive, s.state != subDown
	s.state = subDown
	// Logged once per outage, a node never reached included.
	l.tellLocked(news{what: lost, node: s.name, was: current && was, first: current && first, err: err})
	l.mu.Unlock()
	signal(l.check)
}

// tellLocked tells the hub n, which is on when every current publisher's
// subscription is confirmed.
func (l *listener[T]) tellLocked(n news) {
	n.on = len(l.subs) > 0
	for _, s := range l.subs {
		n.on = n.on && s.state == subLive
	}
	l.h.listened(n)
}

// stop ends every subscription and waits for them.
func (l *listener[T]) stop(ctx context.Context) {
	l.resubscribe(ctx, nil)
	l.wg.Wait()
	l.h.listened(news{what: stopped})
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
// every failure, until ctx ends: a pattern subscription, or keys mode's
// session. Unless TrustFlags, each attempt first makes sure the node
// publishes NotifyFlags (a restarted Redis forgot CONFIG SET, a promoted
// replica may never have had it), and a goroutine re-checks them
// meanwhile (guardFlags). confirmed runs on each confirmation, lost on
// each failure.
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
			if h.subs != nil {
				err = h.keysSession(ctx, n, ps, &b, confirmed)
			} else {
				err = h.patternSession(ctx, ps, &b, confirmed)
			}
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

// patternSession holds one pattern subscription of every watched key's
// channel until it fails.
func (h *Hub[T]) patternSession(ctx context.Context, ps Subscriber, b *backoff, confirmed func()) error {
	prefix := channelPrefix(h.cfg.DB)
	if err := ps.PSubscribe(ctx, prefix+h.cfg.Pattern); err != nil {
		return err
	}
	return h.receive(ctx, ps, len(prefix), func(msg any) {
		if m, ok := msg.(*redis.Subscription); ok && m.Kind == "psubscribe" {
			b.reset()
			confirmed()
		}
	})
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
func (h *Hub[T]) receive(ctx context.Context, ps Subscriber, prefixLen int, on func(msg any)) error {
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
