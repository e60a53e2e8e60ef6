package stream

import (
	"context"
	"sync"
	"time"
)

// RunSubscribed runs the hub as keyspace mode does once subscribed (the
// readers and the safety re-read), with no Redis: Notify stands for the
// subscription. It returns when ctx ends and every goroutine has returned.
func (h *Hub[T]) RunSubscribed(ctx context.Context) {
	defer close(h.done)
	h.mode.Store(Keyspace)
	h.Subscribed()
	var wg sync.WaitGroup
	h.startReaders(ctx, &wg)
	wg.Go(func() { h.guard(ctx) })
	wg.Wait()
}

// Notify hands the hub a keyspace notification of key.
func (h *Hub[T]) Notify(key string) { h.event(key, "set", time.Now()) }

// Event hands the hub keyspace event ev of key ("set", "expire").
func (h *Hub[T]) Event(key, ev string) { h.event(key, ev, time.Now()) }

// Subscribed stands for a subscription confirmation (the first, or one
// after a reconnect).
func (h *Hub[T]) Subscribed() { h.listened(confirmed, h.testSub(), nil) }

// Unsubscribed stands for the subscription failing.
func (h *Hub[T]) Unsubscribed(err error) {
	h.listened(lost, h.testSub(), err)
}

// testSub is the one publisher's subscription the tests' hub stands for.
func (h *Hub[T]) testSub() *nodeSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.publishing["test"] == nil {
		h.publishing["test"] = &nodeSub{name: "test"}
	}
	return h.publishing["test"]
}

// Settled reports whether job id is neither queued for a read nor being
// read.
func (h *Hub[T]) Settled(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.jobs[id]
	return e != nil && e.state == idle
}

// Confirmed reports whether job id is read with every channel of it
// confirmed, so that nothing is pending: under SubscribeKeys the
// confirmation of a Watch's channels reads the job again.
func (h *Hub[T]) Confirmed(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.jobs[id]
	return e != nil && e.state == idle && (h.subs == nil || h.subs.live(id))
}
