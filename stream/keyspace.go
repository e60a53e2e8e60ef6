package stream

import (
	"cmp"
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

// subscribeChunk is the most channels one SUBSCRIBE or UNSUBSCRIBE names.
const subscribeChunk = 1024

// anchorJob is the job whose first key's channel every keys mode
// connection subscribes last in its opening: an ACL that took SUBSCRIBE
// away is noticed with no job watched, and, as Redis answers in order, the
// anchor's reply confirms the whole opening (with no PING, which an ACL
// may refuse).
const anchorJob = "jobwait-anchor"

// listener keeps a keyspace subscription on every publishing node (see
// Publishers in doc.go): listen's goroutine alone starts and stops them.
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
		l.wg.Go(func() { h.keepSubscribed(sctx, n, s, l.check) })
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

// keepSubscribed holds s, a keyspace subscription on node n, re-created
// after every failure, until ctx ends; a failure signals check, since a
// failed master may have been replaced. Unless TrustFlags, each attempt
// first makes sure the node publishes NotifyFlags (a restarted Redis
// forgot CONFIG SET, a promoted replica may never have had it), and a
// goroutine re-checks them meanwhile (guardFlags).
func (h *Hub[T]) keepSubscribed(ctx context.Context, n Node, s *nodeSub, check chan struct{}) {
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
			err = h.session(ctx, n, ps, &b, s)
			stop()
			ps.Close()
		}
		if ctx.Err() != nil {
			return
		}
		h.listened(lost, s, err)
		signal(check)
		b.sleep(ctx)
	}
}

// session holds one connection ps to node n until it fails: its own
// goroutine (send) writes the opening and, in keys mode, then the set's
// changes on n, while this one receives events and replies. The opening's
// last reply (the pattern's, or the anchor's) confirms the node (every
// watched job is re-read); after it, in keys mode, the confirmation of a
// job's last channel reads that job.
func (h *Hub[T]) session(ctx context.Context, n Node, ps Subscriber, b *backoff, s *nodeSub) error {
	var nc *nodeChannels // nil in pattern mode
	var gen uint64
	var opening []string
	h.mu.Lock()
	if h.subs != nil {
		nc = h.subs.node(n.Name)
		gen, opening = h.subs.open(nc)
	}
	h.mu.Unlock()
	// The opening's last reply (Redis answers in order) confirms it: the
	// pattern's, or the anchor channel's, subscribed after every other.
	last := channelPrefix(h.cfg.DB) + h.cfg.Pattern
	if nc != nil {
		last = h.subs.prefix + h.cfg.Keys(anchorJob)[0]
	}
	opening = append(opening, last)

	sctx, stop := context.WithCancel(ctx)
	var sendErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := h.send(sctx, ps, nc, gen, opening); err != nil && sctx.Err() == nil {
			sendErr = err
			ps.Close() // ends the receive below
		}
	})
	opened := false
	err := h.receive(ctx, ps, func(msg any) {
		switch m := msg.(type) {
		case *redis.Subscription:
			if !opened && m.Channel == last {
				opened = true
				b.reset()
				h.listened(confirmed, s, nil)
				break
			}
			if nc == nil {
				break
			}
			// A reply that confirms a job's last channel reads the job,
			// unless in the opening (which reads all).
			h.mu.Lock()
			if id := h.subs.reply(nc, gen, m.Kind, m.Channel); id != "" && opened && h.jobs[id] != nil {
				h.queueLocked(h.jobs[id], asked, time.Time{})
			}
			h.mu.Unlock()
		}
	})
	stop()
	wg.Wait()
	if nc != nil {
		h.mu.Lock()
		h.subs.cut(nc, gen)
		h.mu.Unlock()
	}
	return cmp.Or(sendErr, err) // the sender's failure ended the receive
}

// send writes connection gen's opening (the pattern, or the channels
// given, the anchor last), then, in keys mode until ctx ends, what
// the set queues on nc: once woken it waits SubscribeWindow so that the
// channels wanted meanwhile share one SUBSCRIBE, and unsubscribes lingers
// a window after the first ends, so that those share one UNSUBSCRIBE too.
func (h *Hub[T]) send(ctx context.Context, ps Subscriber, nc *nodeChannels, gen uint64, opening []string) error {
	var err error
	if nc == nil {
		err = ps.PSubscribe(ctx, opening...)
	} else {
		err = inChunks(ctx, ps.Subscribe, opening)
	}
	if err != nil || nc == nil {
		return err
	}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-linger.C:
		case <-nc.kick:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(h.cfg.SubscribeWindow):
			}
		}
		h.mu.Lock()
		subs, unsubs, next := h.subs.take(nc, gen, time.Now())
		h.mu.Unlock()
		if err := inChunks(ctx, ps.Subscribe, subs); err != nil {
			return err
		}
		if err := inChunks(ctx, ps.Unsubscribe, unsubs); err != nil {
			return err
		}
		if !next.IsZero() {
			linger.Reset(max(time.Until(next), 0) + h.cfg.SubscribeWindow)
		}
	}
}

// inChunks sends cmd for channels, subscribeChunk at a time.
func inChunks(ctx context.Context, cmd func(context.Context, ...string) error, channels []string) error {
	for len(channels) > 0 {
		n := min(len(channels), subscribeChunk)
		if err := cmd(ctx, channels[:n]...); err != nil {
			return err
		}
		channels = channels[n:]
	}
	return nil
}

// ensureNotify adds NotifyFlags on node c within timeout; where CONFIG is
// refused the server's own setting is trusted.
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
