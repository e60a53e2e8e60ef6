package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero values (negative values too).
const (
	DefaultPollTick         = 250 * time.Millisecond
	DefaultRoundTripTimeout = 2 * time.Second
	DefaultReaders          = 4
	DefaultBatch            = 512
	DefaultRetry            = 500 * time.Millisecond
	DefaultConfirmDelay     = 200 * time.Millisecond
	DefaultResync           = 5 * time.Second
	DefaultSubscribeWindow  = 5 * time.Millisecond
	DefaultLinger           = 5 * time.Second
)

// SweepBatch is the most jobs one safety re-read batch holds: changes wait
// behind a batch while its replies are decoded, and no longer than that.
const SweepBatch = 64

// ErrClosed is returned by Watch once the hub has stopped.
var ErrClosed = errors.New("hub stopped")

// ErrReadPanic is returned by Watch when the read function panicked.
var ErrReadPanic = errors.New("job read panicked")

// Config says what the hub watches and how it reads. Read, Same and JobID
// are required; the rest have defaults: a zero duration or count is its
// Default constant, Subscribe's is DefaultSubscribe.
type Config[T any] struct {
	// Redis is the Redis the hub subscribes to, or pings while it polls.
	Redis Redis
	// DB is the database number of the keyspace channels (0 on a cluster).
	DB int
	// Pattern is the glob of the keys to watch, e.g. "job:*".
	Pattern string
	// JobID maps a changed key to its job; false ignores the key.
	JobID func(key string) (string, bool)
	// Read reads jobs in one batch, one state per id in order. An error
	// fails the whole batch; a job's own trouble is a state. prev is nil
	// for a read that expects no change (a safety re-read, poll mode),
	// which should cost as little as it can; else each job's state as its
	// waiters know it (T's zero if none): a hint, never the job's state.
	Read func(ctx context.Context, ids []string, prev []T) ([]T, error)
	// Same reports whether two states are equal: only changes are fanned out.
	Same func(a, b T) bool
	// Doubt, if set, says how long a state read after prev (T's zero before
	// the first read) may be held back and re-read, because it may be a
	// moment in a producer's write (a DEL before an HSET, a status before
	// its result). Zero trusts it at once.
	Doubt func(prev, next T) time.Duration
	// TTLs, if set, reads each job's time to live: 0 if it does not
	// expire, below 0 if it is gone (see Expiry in doc.go).
	TTLs func(ctx context.Context, ids []string) ([]time.Duration, error)
	// ConfirmDelay is the first re-read's delay of a doubted state.
	ConfirmDelay time.Duration
	// Resync bounds, in keyspace mode, how long a change no notification
	// announces may go unseen (see Missed notifications in doc.go).
	Resync time.Duration
	// Notify picks how changes are learnt. Zero is Auto: keyspace if it can
	// be enabled, else poll.
	Notify Mode
	// Subscribe picks what keyspace mode subscribes to.
	Subscribe Subscribe
	// Keys returns the keys whose events concern job id. Nil is Pattern
	// with id for its "*".
	Keys func(id string) []string
	// SubscribeWindow is how long, under SubscribeKeys, a channel first
	// wanted waits for others to share its SUBSCRIBE.
	SubscribeWindow time.Duration
	// Linger is how long, under SubscribeKeys, a job's channels stay
	// subscribed after its last waiter left.
	Linger time.Duration
	// TrustFlags, with Notify Keyspace, sends no CONFIG at all: the
	// server's notify-keyspace-events is trusted to hold NotifyFlags, so a
	// user without CONFIG never has a command refused. Ignored otherwise.
	TrustFlags bool
	// PollTick is how often every watched job is read while the hub polls:
	// in poll mode, and while blind or unsubscribed.
	PollTick time.Duration
	// RoundTripTimeout bounds each round trip of the hub to Redis.
	RoundTripTimeout time.Duration
	// Readers is how many batches may be read at once.
	Readers int
	// Batch is the most jobs read in one round trip.
	Batch int
	// Logger receives one line per event worth an operator's attention.
	Logger *slog.Logger
}

// Hub holds the waiters of every watched job and keeps them up to date.
type Hub[T any] struct {
	cfg Config[T]
	log *slog.Logger

	mu         sync.Mutex
	jobs       map[string]*entry[T]
	dirty      []*entry[T]          // queued for a read, oldest first
	sweep      []*entry[T]          // queued by safety re-reads only: read when dirty is empty
	listening  bool                 // subscribed (keyspace) or the last poll answered; set by listened only
	publishing map[string]*nodeSub  // keyspace mode: the current publishers' subscriptions, by node name
	refusal    string               // the last refusal of a subscription logged (see listened)
	down       string               // why the hub does not listen: the listener's last error
	flaps      flaps                // which losses and confirmations are logged (see listened)
	fresh      bool                 // the hub's states follow every change: listening and not blind
	blind      blindness            // caught missing changes
	suspects   map[string]time.Time // changes found by safety re-reads, not yet announced
	subs       *subscriptions       // keys mode's subscription set; nil under SubscribePattern or Poll
	stats      Stats                // the counters; Stats fills in the gauges

	kick  chan struct{} // capacity one: wakes a reader
	polls chan struct{} // capacity one: wakes the guard when it starts to poll
	done  chan struct{} // closed when Run returns

	running atomic.Bool
	mode    atomic.Value // Mode, once chosen
	failing atomic.Bool  // the last batched read failed (logged once per outage)
}

// New returns a hub; it does nothing until Run.
func New[T any](cfg Config[T]) *Hub[T] {
	cfg.PollTick = cmp.Or(max(cfg.PollTick, 0), DefaultPollTick)
	cfg.RoundTripTimeout = cmp.Or(max(cfg.RoundTripTimeout, 0), DefaultRoundTripTimeout)
	cfg.ConfirmDelay = cmp.Or(max(cfg.ConfirmDelay, 0), DefaultConfirmDelay)
	cfg.Resync = cmp.Or(max(cfg.Resync, 0), DefaultResync)
	cfg.Readers = cmp.Or(max(cfg.Readers, 0), DefaultReaders)
	cfg.Batch = cmp.Or(max(cfg.Batch, 0), DefaultBatch)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.TrustFlags = cfg.TrustFlags && cfg.Notify == Keyspace
	cfg.Subscribe = cmp.Or(cfg.Subscribe, DefaultSubscribe)
	cfg.SubscribeWindow = cmp.Or(max(cfg.SubscribeWindow, 0), DefaultSubscribeWindow)
	cfg.Linger = cmp.Or(max(cfg.Linger, 0), DefaultLinger)
	if cfg.Keys == nil {
		prefix := strings.TrimSuffix(cfg.Pattern, "*")
		cfg.Keys = func(id string) []string { return []string{prefix + id} }
	}
	h := &Hub[T]{
		cfg:        cfg,
		log:        cfg.Logger,
		jobs:       make(map[string]*entry[T]),
		suspects:   make(map[string]time.Time),
		publishing: make(map[string]*nodeSub),
		kick:       make(chan struct{}, 1),
		polls:      make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	if cfg.Subscribe == SubscribeKeys && cfg.Notify != Poll {
		h.subs = newSubscriptions(channelPrefix(cfg.DB), cfg.Keys, cfg.Linger)
	}
	return h
}

// Watch registers a waiter for job id and returns it with the job's state:
// the hub's knowledge when that follows every change, else a read shared
// with every concurrent Watch of the job. On error no waiter is left
// behind. Under SubscribeKeys the waiter holds the job's channels until it
// is closed.
func (h *Hub[T]) Watch(ctx context.Context, id string) (*Waiter[T], T, error) {
	return h.watch(ctx, id, true)
}

// Peek returns job id's state for a short poll, as Watch would, but
// subscribes to nothing: a job polled and never watched costs no SUBSCRIBE.
func (h *Hub[T]) Peek(ctx context.Context, id string) (T, error) {
	w, st, err := h.watch(ctx, id, false)
	if err == nil {
		w.Close()
	}
	return st, err
}

// watch is Watch, held (wanting the job's channels in keys mode) or not.
func (h *Hub[T]) watch(ctx context.Context, id string, held bool) (*Waiter[T], T, error) {
	w := &Waiter[T]{hub: h, wake: make(chan struct{}, 1)}
	var zero T
	var chans *jobChannels
	h.mu.Lock()
	e := h.jobs[id]
	if e == nil {
		// A new job's entry and channels are made with mu released (see
		// wantOf). id is copied: the caller's may be fasthttp's buffer.
		subs := h.subs // Run drops it, under mu, if the hub polls
		h.mu.Unlock()
		id = strings.Clone(id)
		made := &entry[T]{id: id, waiters: make(map[*Waiter[T]]struct{}, 1), state: idle, newTTL: true}
		if held && subs != nil {
			chans = subs.wantOf(id)
		}
		h.mu.Lock()
		if e = h.jobs[id]; e == nil {
			e = made
			h.jobs[id] = e
		}
	}
	w.id, w.held = e.id, held && h.subs != nil
	e.waiters[w] = struct{}{}
	subscribed := h.subs == nil // else: every channel of the job confirmed
	switch {
	case w.held:
		subscribed = h.subs.want(e.id, chans)
	case h.subs != nil:
		subscribed = h.subs.live(e.id)
	}
	if e.cur != nil && h.fresh && e.state.trusted() && e.err == nil && subscribed {
		w.latest.Store(e.cur)
		st := e.cur.state
		h.mu.Unlock()
		return w, st, nil
	}
	ready := e.readyLocked()
	h.queueLocked(e, asked, time.Time{})
	h.mu.Unlock()

	for {
		select {
		case <-ready:
		case <-ctx.Done():
			w.Close()
			return nil, zero, ctx.Err()
		case <-h.done:
			w.Close()
			return nil, zero, ErrClosed
		}
		h.mu.Lock()
		err, cur := e.err, e.cur
		if err == nil && cur == nil && !e.doubtFrom.IsZero() {
			// The first state is held back (Config.Doubt): wait for it.
			ready = e.readyLocked()
			h.mu.Unlock()
			continue
		}
		h.mu.Unlock()
		if err == nil && cur == nil {
			err = ErrClosed
		}
		if err != nil {
			w.Close()
			return nil, zero, err
		}
		// The read may have fanned out to w: its state is returned here,
		// so the wake-up it left is spent.
		select {
		case <-w.wake:
		default:
		}
		w.latest.CompareAndSwap(nil, cur)
		return w, w.latest.Load().state, nil
	}
}

// queueLocked asks for a read of e; at is when the change was learnt (zero: none).
func (h *Hub[T]) queueLocked(e *entry[T], ev event, at time.Time) {
	if !at.IsZero() && e.since.IsZero() {
		e.since = at
	}
	h.moveLocked(e, ev)
}

// signal wakes whoever waits on ch, of capacity one, without blocking: a
// signal already pending stands for this one too.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

var (
	// ttlEvents change the time to live, not the value: nothing is read.
	ttlEvents = map[string]bool{"expire": true, "persist": true}
	// newKeyEvents put another value, with its own time to live, in place.
	newKeyEvents = map[string]bool{"restore": true, "rename_to": true, "copy_to": true, "move_to": true}
)

// event handles keyspace event ev of key, learnt at at.
func (h *Hub[T]) event(key, ev string, at time.Time) {
	id, ok := h.cfg.JobID(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	change := !ttlEvents[ev]
	if change {
		h.stats.Notifications++
	}
	if !ok {
		return
	}
	e := h.jobs[id]
	if change {
		h.blind.heard = true
		delete(h.suspects, id) // announced after all, only late
		if e != nil {
			h.queueLocked(e, notified, at)
		}
	}
	if e != nil && (ttlEvents[ev] || newKeyEvents[ev]) {
		e.newTTL = true
	}
}

// resyncLocked queues every watched job for a read, since the hub's states
// may miss a change learnt at at.
func (h *Hub[T]) resyncLocked(at time.Time) {
	for _, e := range h.jobs {
		h.queueLocked(e, asked, at)
	}
}

// refreshLocked makes the hub fresh while it listens and is not blind.
// Unfresh wakes the guard to poll; fresh again queues every job in the same
// step, so no Watch trusts a state from before.
func (h *Hub[T]) refreshLocked() {
	fresh := h.listening && !h.blind.on
	if h.fresh && !fresh {
		signal(h.polls)
	}
	if fresh && !h.fresh {
		h.resyncLocked(time.Now())
	}
	h.fresh = fresh
}

// startReaders starts Config.Readers readers in wg, each reading batches
// while it is kicked, until ctx ends.
func (h *Hub[T]) startReaders(ctx context.Context, wg *sync.WaitGroup) {
	for range h.cfg.Readers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-h.kick:
				}
				for batch, swept := h.take(); batch != nil; batch, swept = h.take() {
					h.read(ctx, batch, !swept && h.Mode() != Poll)
				}
			}
		})
	}
}

// take removes up to one batch from the queues (changes first, then safety
// re-reads: swept) and passes the kick on when more is left.
func (h *Hub[T]) take() (batch []*entry[T], swept bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	batch = h.takeFrom(&h.dirty, h.cfg.Batch, state.inDirty)
	if batch == nil {
		batch, swept = h.takeFrom(&h.sweep, min(h.cfg.Batch, SweepBatch), state.inSweep), true
	}
	if batch == nil {
		return nil, false
	}
	if len(h.dirty)+len(h.sweep) > 0 {
		signal(h.kick)
	}
	for _, e := range batch {
		// This read answers those who waited before it started; a Watch
		// during it waits for the next one.
		e.claimed, e.ready = e.ready, nil
	}
	return batch, swept
}

// takeFrom takes up to n entries off the front of q and marks them being
// read, passing over those no longer queued there.
func (h *Hub[T]) takeFrom(q *[]*entry[T], n int, queued func(state) bool) []*entry[T] {
	var batch []*entry[T]
	i := 0
	for ; i < len(*q) && len(batch) < n; i++ {
		e := (*q)[i]
		if !queued(e.state) {
			continue
		}

		h.moveLocked(e, taken)
		batch = append(batch, e)
	}
	if *q = (*q)[i:]; len(*q) == 0 {
		*q = nil
	}
	return batch
}

// read reads a batch and fans each changed state out; expect: see Config.Read.
func (h *Hub[T]) read(ctx context.Context, batch []*entry[T], expect bool) {
	ids := make([]string, len(batch))
	var prev []T
	if expect {
		prev = make([]T, len(batch))
	}
	h.mu.Lock()
	for i, e := range batch {
		ids[i] = e.id
		if expect && e.cur != nil && !e.state.unannounced() {
			prev[i] = e.cur.state
		}
	}
	h.mu.Unlock()
	states, err := h.readSafely(ctx, ids, prev)
	if err == nil && len(states) != len(ids) {
		err = errors.New("read returned a wrong number of states")
	}
	if err != nil {
		if !h.failing.Swap(true) {
			h.log.Warn("job reads failing; retrying while jobs are watched", "jobs", len(ids), "err", err)
		}
	} else if h.failing.Swap(false) {
		h.log.Info("job reads succeed again")
	}

	h.mu.Lock()
	h.stats.Reads += uint64(len(ids))
	h.stats.Batches++
	if err != nil {
		h.stats.ReadErrors++
	}
	now := time.Now()
	var pushes [][]func() func()             // per job, the OnChange calls of its fan-out
	later := map[time.Duration][]*entry[T]{} // read again after a delay: doubted, or failed
	for i, e := range batch {
		e.err = err
		var hold time.Duration
		if err == nil {
			e.readAt = now
			var p []func() func()
			hold, p = h.applyLocked(e, states[i], now)
			pushes = append(pushes, p)
		}
		if e.claimed != nil {
			close(e.claimed)
			e.claimed = nil
		}
		if h.jobs[e.id] != e {
			h.moveLocked(e, dropped) // every waiter left during the read
			continue
		}
		switch h.moveLocked(e, readDone); {
		case e.state == dirty: // changed during the read: read once more
		case hold > 0:
			later[hold] = append(later[hold], e)
		case err != nil:
			later[DefaultRetry] = append(later[DefaultRetry], e)
		}
	}
	h.mu.Unlock()
	// A job's afters (closes) run once its deliveries are made, before the
	// next job's: they wait for no write of a later job.
	var afters []func()
	for _, job := range pushes {
		for _, f := range job {
			if after := f(); after != nil {
				afters = append(afters, after)
			}
		}
		for _, f := range afters {
			f()
		}
		afters = afters[:0]
	}

	if ctx.Err() == nil {
		for d, es := range later {
			time.AfterFunc(d, func() { h.requeue(ctx, es) })
		}
	}
}

// readSafely calls Config.Read within the round trip timeout; a panic (a
// bug) fails the batch instead of the process.
func (h *Hub[T]) readSafely(ctx context.Context, ids []string, prev []T) (states []T, err error) {
	rctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("job read panicked", "panic", r, "stack", string(debug.Stack()))
			states, err = nil, fmt.Errorf("%w: %v", ErrReadPanic, r)
		}
	}()
	return h.cfg.Read(rctx, ids, prev)
}

// requeue queues those of es still watched again.
func (h *Hub[T]) requeue(ctx context.Context, es []*entry[T]) {
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	for _, e := range es {
		if h.jobs[e.id] == e {
			h.queueLocked(e, asked, time.Time{})
		}
	}
	h.mu.Unlock()
}

// applyLocked stores a state read at now and fans it out if it changed,
// returning the OnChange calls to make unlocked; or, while Config.Doubt
// holds it back, the delay of the job's next read.
func (h *Hub[T]) applyLocked(e *entry[T], st T, now time.Time) (again time.Duration, pushes []func() func()) {
	var prev T
	if e.cur != nil {
		if h.cfg.Same(e.cur.state, st) {
			e.since, e.doubtFrom = time.Time{}, time.Time{}
			return 0, nil
		}
		prev = e.cur.state
		if e.state.unannounced() && h.listening {
			// Announced by no notification, unless one comes within ConfirmDelay.
			h.suspects[e.id] = now
		}
	}
	if h.cfg.Doubt != nil {
		if hold := h.cfg.Doubt(prev, st); hold > 0 {
			if e.doubtFrom.IsZero() {
				e.doubtFrom, e.doubtStep = now, min(h.cfg.ConfirmDelay, hold)
			}
			if left := e.doubtFrom.Add(hold).Sub(now); left > 0 {
				d := min(e.doubtStep, left)
				e.doubtStep *= 2
				return d, nil
			}
		}
	}
	u := &update[T]{state: st, at: cmp.Or(e.since, time.Now())}
	e.doubtFrom, e.since, e.cur = time.Time{}, time.Time{}, u
	for w := range e.waiters {
		if f := w.deliver(u); f != nil {
			pushes = append(pushes, f)
		}
	}
	h.stats.Fanouts += uint64(len(e.waiters))
	return 0, pushes
}

// leave removes a waiter; the job is forgotten with its last waiter, and
// its channels linger with its last held one.
func (h *Hub[T]) leave(w *Waiter[T]) {
	h.mu.Lock()
	if w.held && h.subs != nil {
		h.subs.unwant(w.id)
	}
	if e := h.jobs[w.id]; e != nil {
		delete(e.waiters, w)
		if len(e.waiters) == 0 {
			delete(h.jobs, w.id)
		}
	}
	h.mu.Unlock()
}
