package stream_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/stream"
)

// The hub's rules of doc.go, one test each, on the in-memory store of
// fake_test.go under a fake clock: deterministic, no Redis, no sleeps
// but the fake clock's.

// TestWatchRegistersBeforeItReads: the waiter is registered before the read
// that gives Watch its state, so a change that lands during that read (after
// its value was taken) reaches the waiter.
func TestWatchRegistersBeforeItReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("a", "PENDING")
		h := memHub(t, m)
		waitersAtRead := -1
		m.during = func(ids, prev []string) error {
			if waitersAtRead < 0 {
				waitersAtRead = h.Stats().Waiters
				m.set("a", "COMPLETED")
				h.Notify("job:a")
			}
			return nil
		}
		w, st, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		defer w.Close()
		assert.Equal(t, 1, waitersAtRead, "the waiter is registered when the job is read")
		// Watch returns the first read's value and the waiter is woken
		// with the change, or Watch returns after the second read already.
		if got, ok := next(t, w, time.Second); ok {
			st = got
		}
		assert.Equal(t, "COMPLETED", st, "the change during the first read is not lost")
	})
}

// TestChangeDuringReadIsReadAgain: notifications during a read mark the job
// dirty once more: one more read, however many came, and the waiter ends
// with the newest state.
func TestChangeDuringReadIsReadAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PENDING")

		inRead := true
		m.during = func(ids, prev []string) error {
			if inRead {
				inRead = false
				m.set("a", "COMPLETED")
				for range 3 {
					h.Notify("job:a")
				}
			}
			return nil
		}
		m.set("a", "PROCESSING")
		h.Notify("job:a")
		synctest.Wait()
		st, _ := w.Latest()
		assert.Equal(t, "COMPLETED", st)
		assert.Len(t, m.readsOf("a"), 3, "Watch's read, the notified one, and one more for the notifications during it")
	})
}

// TestVanishConfirmed: a job that reads as gone is held back and read again
// ConfirmDelay later: a gap in a producer's rewrite (DEL, then HSET) is
// never seen by waiters; a job that stays gone is, after ConfirmDelay.
func TestVanishConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PROCESSING")

		m.set("a", "") // DEL
		h.Notify("job:a")
		time.Sleep(stream.DefaultConfirmDelay / 2)
		m.set("a", "PROCESSING") // HSET
		h.Notify("job:a")
		synctest.Wait()
		_, ok := next(t, w, time.Second)
		assert.False(t, ok, "the gap is not fanned out")

		m.set("a", "")
		h.Notify("job:a")
		start := time.Now()
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "", got, "gone for good")
		assert.Equal(t, stream.DefaultConfirmDelay, time.Since(start), "after one confirming read")
	})
}

// TestFailedReadIsRetried: a read that fails is retried DefaultRetry later
// while the job has waiters, and the waiters get the state it finds.
func TestFailedReadIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PENDING")

		failures := 2
		m.during = func(_, _ []string) error {
			if failures > 0 {
				failures--
				return errors.New("redis down")
			}
			return nil
		}
		m.set("a", "COMPLETED")
		h.Notify("job:a")
		start := time.Now()
		got, ok := next(t, w, 5*time.Second)
		require.True(t, ok, "the change is read once Redis answers")
		assert.Equal(t, "COMPLETED", got)
		assert.Equal(t, 2*stream.DefaultRetry, time.Since(start), "two failures, each retried DefaultRetry later")
		assert.EqualValues(t, 2, h.Stats().ReadErrors)

		// A Watch whose own read fails gets the error and leaves no waiter.
		failures = 1
		w2, _, err := h.Watch(t.Context(), "b")
		assert.Error(t, err)
		assert.Nil(t, w2)
		synctest.Wait()
		assert.Equal(t, 1, h.Stats().Jobs, "only a is watched")
	})
}

// TestResubscribeReadsEveryWatchedJob: while the subscription is down the
// hub is not ready and a Watch reads the job itself; a change made meanwhile
// (its notification lost) reaches the waiters when the subscription is
// confirmed again, since every watched job is read then.
func TestResubscribeReadsEveryWatchedJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		h := memHub(t, m)
		var ws []*stream.Waiter[string]
		for i := range 3 {
			id := fmt.Sprint("j", i)
			m.set(id, "PROCESSING")
			w, _, err := h.Watch(t.Context(), id)
			require.NoError(t, err)
			defer w.Close()
			ws = append(ws, w)
		}
		require.True(t, h.Ready())

		h.Unsubscribed(errors.New("connection reset"))
		assert.False(t, h.Ready())
		for i := range 3 {
			m.set(fmt.Sprint("j", i), "COMPLETED") // notifications lost
		}
		synctest.Wait()
		for _, w := range ws {
			_, ok := next(t, w, time.Millisecond)
			require.False(t, ok, "nothing is read until the subscription is back")
		}
		n := len(m.readsOf("j0"))
		w, st, err := h.Watch(t.Context(), "j0")
		require.NoError(t, err)
		w.Close()
		assert.Equal(t, "COMPLETED", st, "a Watch while unsubscribed reads Redis")
		assert.Len(t, m.readsOf("j0"), n+1)

		before := h.Stats()
		h.Subscribed()
		assert.True(t, h.Ready())
		for i, w := range ws {
			if i == 0 {
				continue // read by the Watch above, and fanned out then
			}
			got, ok := next(t, w, time.Second)
			require.True(t, ok, "waiter %d woken after the resubscription", i)
			assert.Equal(t, "COMPLETED", got)
		}
		after := h.Stats()
		assert.EqualValues(t, 1, after.Resyncs-before.Resyncs)
		assert.EqualValues(t, 1, after.Reconnects)
		assert.EqualValues(t, 1, after.Batches-before.Batches, "every watched job re-read in one batch")
	})
}

// TestSameEventTwiceFansOutOnce: on a cluster a node briefly subscribed
// twice delivers each event twice; only a state that differs is fanned
// out, so the second costs a read at most, never a fan-out.
func TestSameEventTwiceFansOutOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PENDING")
		before := h.Stats()

		m.set("a", "COMPLETED")
		h.Notify("job:a")
		synctest.Wait()
		h.Notify("job:a") // the same event, from the second subscription
		synctest.Wait()

		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
		_, ok = next(t, w, time.Second)
		assert.False(t, ok, "woken once")
		after := h.Stats()
		assert.EqualValues(t, 1, after.Fanouts-before.Fanouts)
		assert.EqualValues(t, 2, after.Notifications-before.Notifications)
	})
}

// TestSlowWaiterNeverBlocksFanout: a waiter that does not read its channel
// holds one wake-up and the newest state; the hub and every other waiter
// carry on through any number of changes.
func TestSlowWaiterNeverBlocksFanout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("a", "0")
		h := memHub(t, m)
		slow, _, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		defer slow.Close()
		quick, _, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		defer quick.Close()

		const changes = 100
		before := h.Stats()
		for i := 1; i <= changes; i++ {
			m.set("a", fmt.Sprint(i))
			h.Notify("job:a")
			got, ok := next(t, quick, time.Second)
			require.True(t, ok, "change %d reaches the attentive waiter", i)
			require.Equal(t, fmt.Sprint(i), got)
		}
		synctest.Wait() // the last fan-out reaches every waiter, not only quick
		assert.Len(t, slow.C(), 1, "one pending wake-up covers every change")
		got, ok := next(t, slow, time.Second)
		require.True(t, ok)
		assert.Equal(t, fmt.Sprint(changes), got, "the newest state, not the first undelivered one")
		_, ok = next(t, slow, time.Second)
		assert.False(t, ok)
		assert.EqualValues(t, 2*changes, h.Stats().Fanouts-before.Fanouts)
	})
}

// TestReadIsGivenWhatWaitersKnow: Read gets each job's state as its waiters
// know it (the zero state before the first read), a hint to read fewer
// round trips; a held-back doubted state is not what waiters know; a
// safety re-read, which expects no change, gets no prev at all.
func TestReadIsGivenWhatWaitersKnow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("a", "PENDING")
		h := memHub(t, m)
		var mu sync.Mutex
		var prevs []string
		m.during = func(ids, prev []string) error {
			mu.Lock()
			if prev == nil {
				prevs = append(prevs, "(none)")
			}
			prevs = append(prevs, prev...)
			mu.Unlock()
			return nil
		}
		w, _, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		defer w.Close()
		for _, st := range []string{"PROCESSING", "late", "COMPLETED"} {
			m.set("a", st)
			h.Notify("job:a")
			synctest.Wait()
		}
		time.Sleep(testGrace)  // the doubted state's scheduled re-read
		time.Sleep(testResync) // a safety re-read
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"", "PENDING", "PROCESSING", "PROCESSING", "COMPLETED", "(none)"}, prevs)
	})
}

// TestOnChangeReplacesTheWakeUp: a waiter with OnChange is not signalled on
// C; the reader calls f once the newest state is stored and the hub's lock
// is released (f may call into the hub), and f hands work on with Wake.
func TestOnChangeReplacesTheWakeUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PENDING")
		seen := make(chan string, 10)
		w.OnChange(func() func() {
			st, _ := w.Latest()
			h.Stats() // takes the hub's lock: f runs outside it
			seen <- st
			if st == "COMPLETED" {
				w.Wake()
			}
			return nil
		})

		m.set("a", "PROCESSING")
		h.Notify("job:a")
		synctest.Wait()
		require.Len(t, seen, 1)
		assert.Equal(t, "PROCESSING", <-seen)
		assert.Empty(t, w.C(), "no wake-up: f took the change")

		m.set("a", "COMPLETED")
		h.Notify("job:a")
		synctest.Wait()
		require.Len(t, seen, 1)
		assert.Equal(t, "COMPLETED", <-seen)
		got, ok := next(t, w, time.Second)
		require.True(t, ok, "f's Wake signals C")
		assert.Equal(t, "COMPLETED", got)
	})
}

// TestOnChangeAftersFollowEveryDelivery: what f returns runs once every
// waiter of the job has had its f called, never between two deliveries of
// the job, and before the next job of the same read is delivered.
func TestOnChangeAftersFollowEveryDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		for _, id := range []string{"a", "b", "gate"} {
			m.set(id, "PROCESSING")
		}
		h := memHub(t, m, func(c *stream.Config[string]) { c.Readers = 1 })
		var mu sync.Mutex
		var calls []string
		record := func(s string) {
			mu.Lock()
			calls = append(calls, s)
			mu.Unlock()
		}
		for _, id := range []string{"a", "a", "b", "gate"} {
			w, _, err := h.Watch(t.Context(), id)
			require.NoError(t, err)
			t.Cleanup(w.Close)
			w.OnChange(func() func() {
				record("deliver " + id)
				return func() { record("after " + id) }
			})
		}
		synctest.Wait()

		// The one reader is held in a read of gate while a and b change,
		// so that it then reads them in one batch.
		entered, release := make(chan struct{}), make(chan struct{})
		var batches [][]string
		m.mu.Lock()
		m.during = func(ids, _ []string) error {
			mu.Lock()
			batches = append(batches, slices.Clone(ids))
			mu.Unlock()
			if slices.Equal(ids, []string{"gate"}) {
				close(entered)
				<-release
			}
			return nil
		}
		m.mu.Unlock()
		h.Notify("job:gate")
		<-entered
		m.set("a", "COMPLETED")
		m.set("b", "COMPLETED")
		h.Notify("job:a")
		h.Notify("job:b")
		close(release)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, 2, len(batches), "%v", batches)
		assert.ElementsMatch(t, []string{"a", "b"}, batches[1], "a and b read in one batch")
		waiters := map[string]int{"a": 2, "b": 1}
		var want []string
		for _, id := range batches[1] {
			for range waiters[id] {
				want = append(want, "deliver "+id)
			}
			for range waiters[id] {
				want = append(want, "after "+id)
			}
		}
		assert.Equal(t, want, calls, "each job's deliveries, then its afters, job by job")
	})
}
