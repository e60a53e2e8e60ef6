package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/stream"
)

// The hub's time-driven logic (the safety re-read, blindness, the grace of
// doubted states) on the in-memory store of fake_test.go under a fake clock.

func TestChangeWithoutNotificationIsReadWithinResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("a", "PROCESSING")
		h := memHub(t, m)
		w, st, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		defer w.Close()
		require.Equal(t, "PROCESSING", st)

		time.Sleep(time.Second)
		changed := time.Now()
		m.set("a", "COMPLETED") // and no notification
		got, ok := next(t, w, testResync)
		require.True(t, ok, "change not seen within Resync of the last read")
		assert.Equal(t, "COMPLETED", got)
		assert.Equal(t, testResync-time.Second, time.Since(changed), "read again Resync after the last read")

		// No notification turned up: the hub says it is blind, and
		// re-reads at the poll interval meanwhile.
		time.Sleep(stream.DefaultConfirmDelay + testResync/10)
		bs := h.Stats()
		blind, reason := bs.Blind, bs.BlindReason
		assert.True(t, blind)
		assert.Contains(t, reason, "no notification announced")
		st2 := h.Stats()
		assert.EqualValues(t, 1, st2.Unannounced)
		assert.EqualValues(t, 1, st2.BlindEpisodes)

		// Nor does it answer from its knowledge: a Watch reads.
		n := len(m.readsOf("a"))
		w2, st, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)
		w2.Close()
		assert.Equal(t, "COMPLETED", st)
		assert.Len(t, m.readsOf("a"), n+1, "a Watch while blind reads the job")

		m.set("a", "PROCESSING")
		changed = time.Now()
		got, ok = next(t, w, testResync)
		require.True(t, ok)
		assert.Equal(t, "PROCESSING", got)
		assert.LessOrEqual(t, time.Since(changed), 2*stream.DefaultPollTick, "while blind, watched jobs are polled")

		// Quiet is no proof while nothing is heard: notifications may
		// still be off, and no watched job changed since.
		time.Sleep(2 * testResync)
		blind = h.Stats().Blind
		assert.True(t, blind, "blind ended with no notification heard")

		// A notification (of any job), then a whole Resync without
		// evidence, ends the episode.
		h.Notify("job:b")
		time.Sleep(testResync + testResync/10)
		blind = h.Stats().Blind
		assert.False(t, blind)
	})
}

func TestLateNotificationIsNoBlindness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PROCESSING")

		// The change lands just before a safety re-read, its
		// notification just after.
		time.Sleep(testResync - 10*time.Millisecond)
		m.set("a", "COMPLETED")
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
		h.Notify("job:a")
		time.Sleep(testResync)
		assertNotBlind(t, h)
	})
}

func TestJobCompletedWithinResyncCostsNoSafetyRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("a", "PROCESSING")
		h := memHub(t, m)
		w, _, err := h.Watch(t.Context(), "a")
		require.NoError(t, err)

		time.Sleep(testResync - time.Second)
		m.set("a", "COMPLETED")
		h.Notify("job:a")
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		require.Equal(t, "COMPLETED", got)
		w.Close()

		time.Sleep(3 * testResync)
		assert.Len(t, m.readsOf("a"), 2, "the first read and the notified one")
		assert.EqualValues(t, 0, h.Stats().SafetyReads)
	})
}

func TestLongWaitIsReReadOncePerResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _, _ := watched(t, "PROCESSING")
		time.Sleep(6*testResync + time.Millisecond)
		reads := m.readsOf("a")
		require.Len(t, reads, 7, "the first read and one per Resync")
		for i := 1; i < len(reads); i++ {
			assert.LessOrEqual(t, reads[i].Sub(reads[i-1]), testResync)
		}
	})
}

// TestGraceReReadsWithBackoff: a producer leaves a doubted state ("late":
// completed, result not yet written), then, unless never, the settled one.
func TestGraceReReadsWithBackoff(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settle   time.Duration // when the result arrives; 0: never
		want     string
		wantAt   time.Duration // when waiters learn it, from the first doubted read
		nReads   int           // reads after the first doubted one
		previous bool          // the waiter knew a state before
	}{
		{"result 300ms late", 300 * time.Millisecond, "COMPLETED", 600 * time.Millisecond, 2, true},
		{"result 1.5s late", 1500 * time.Millisecond, "COMPLETED", 2 * time.Second, 4, true},
		{"result never written", 0, "late", 2 * time.Second, 4, true},
		{"first read, result 300ms late", 300 * time.Millisecond, "COMPLETED", 600 * time.Millisecond, 2, false},
		{"first read, result never written", 0, "late", 2 * time.Second, 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMemStore()
				h := memHub(t, m)
				var w *stream.Waiter[string]
				var got string
				var start time.Time
				if tt.previous {
					m.set("a", "PROCESSING")
					var err error
					w, got, err = h.Watch(t.Context(), "a")
					require.NoError(t, err)
					require.Equal(t, "PROCESSING", got)
					start = time.Now()
					m.set("a", "late")
					h.Notify("job:a")
				} else {
					m.set("a", "late")
					start = time.Now()
				}
				if tt.settle > 0 {
					time.AfterFunc(tt.settle, func() { m.set("a", "COMPLETED") })
				}
				if tt.previous {
					var ok bool
					got, ok = next(t, w, 3*time.Second)
					require.True(t, ok)
				} else {
					var err error
					w, got, err = h.Watch(t.Context(), "a") // held until settled
					require.NoError(t, err)
				}
				defer w.Close()
				assert.Equal(t, tt.want, got)
				assert.Equal(t, tt.wantAt, time.Since(start))
				reads := m.readsOf("a")
				if tt.previous {
					reads = reads[1:]
				}
				var at []time.Duration
				for _, r := range reads {
					at = append(at, r.Sub(start))
				}
				assert.Len(t, at, tt.nReads+1, "reads at %v: first 200ms, doubling, the last at the grace", at)
				_, ok := next(t, w, time.Second)
				assert.False(t, ok, "one state fanned out, no flapping")
			})
		})
	}
}

func TestSafetyReadsAreBatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		h := memHub(t, m)
		for i := range 300 {
			id := fmt.Sprint("j", i)
			m.set(id, "PROCESSING")
			w, _, err := h.Watch(t.Context(), id)
			require.NoError(t, err)
			defer w.Close()
		}
		before := h.Stats()
		time.Sleep(testResync + testResync/10)
		after := h.Stats()
		assert.EqualValues(t, 300, after.SafetyReads-before.SafetyReads)
		assert.EqualValues(t, (300+stream.SweepBatch-1)/stream.SweepBatch, after.Batches-before.Batches,
			"300 jobs re-read in batches of SweepBatch, one round trip each")
	})
}

// TestChangesGoBeforeSafetyReads: safety re-reads wait behind every change,
// in batches of SweepBatch, so a change is never read behind a sweep of
// every watched job.
func TestChangesGoBeforeSafetyReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		h := memHub(t, m, func(c *stream.Config[string]) { c.Readers = 1 })
		for i := range 3 * stream.SweepBatch {
			id := fmt.Sprint("j", i)
			m.set(id, "PROCESSING")
			w, _, err := h.Watch(t.Context(), id)
			require.NoError(t, err)
			defer w.Close()
		}
		time.Sleep(time.Second)
		m.set("x", "PROCESSING")
		w, _, err := h.Watch(t.Context(), "x") // read now: not due when the others are
		require.NoError(t, err)
		defer w.Close()

		var mu sync.Mutex
		var batches [][]string
		gate := make(chan struct{})
		m.mu.Lock()
		m.during = func(ids, _ []string) error {
			mu.Lock()
			batches = append(batches, append([]string(nil), ids...))
			first := len(batches) == 1
			mu.Unlock()
			if first {
				<-gate // the first sweep batch is being read when x changes
			}
			return nil
		}
		m.mu.Unlock()
		time.Sleep(testResync - time.Second + testResync/10)
		synctest.Wait()
		m.set("x", "COMPLETED")
		h.Notify("job:x")
		close(gate)
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, batches, 4, "three sweep batches and the change")
		assert.Len(t, batches[0], stream.SweepBatch)
		assert.Equal(t, []string{"x"}, batches[1], "the change is read before the sweep batches queued before it")
		assert.Len(t, batches[2], stream.SweepBatch)
		assert.Len(t, batches[3], stream.SweepBatch)
	})
}

// watchedWithTTL is watched, job "a" given a time to live of ttl, which
// the hub looks up in the store.
func watchedWithTTL(t *testing.T, st string, ttl time.Duration) (*memStore, *stream.Hub[string], *stream.Waiter[string]) {
	t.Helper()
	m := newMemStore()
	m.set("a", st)
	m.expire("a", ttl)
	h := memHub(t, m, func(c *stream.Config[string]) { c.TTLs = m.ttls })
	w, _, err := h.Watch(t.Context(), "a")
	require.NoError(t, err)
	t.Cleanup(w.Close)
	return m, h, w
}

// TestExpiredJobIsReadWhenItsTimeIsUp: a watched job whose time to live
// runs out is read then, not at the next safety re-read, and its waiters
// learn it is gone once the vanishing is confirmed.
func TestExpiredJobIsReadWhenItsTimeIsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		const ttl = 1800 * time.Millisecond // not on a tick of the guard
		_, _, w := watchedWithTTL(t, "PROCESSING", ttl)
		got, ok := next(t, w, testResync)
		require.True(t, ok, "expiry not seen within Resync")
		assert.Equal(t, "", got)
		assert.Equal(t, ttl+stream.DefaultConfirmDelay, time.Since(start), "read when its time is up, confirmed ConfirmDelay later")
	})
}

// TestNewTTLIsLearnt: an EXPIRE of a watched job (its time to live
// changed, not its value) costs no read; the new time to live is looked
// up at the guard's next tick, and the job read when it is up.
func TestNewTTLIsLearnt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watchedWithTTL(t, "PROCESSING", time.Hour)
		time.Sleep(time.Second)
		m.expire("a", time.Second)
		h.Event("job:a", "expire")
		start := time.Now()
		time.Sleep(time.Second - time.Millisecond)
		assert.Len(t, m.readsOf("a"), 1, "the expire is not read")

		got, ok := next(t, w, testResync)
		require.True(t, ok, "expiry not seen within Resync")
		assert.Equal(t, "", got)
		assert.Equal(t, time.Second+stream.DefaultConfirmDelay, time.Since(start))
	})
}

// TestLongerTTLCostsNoRead: SET … EX (a set, then an expire) of a watched
// job costs the set's read and a lookup of its new time to live, so the
// old one's end costs nothing.
func TestLongerTTLCostsNoRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watchedWithTTL(t, "PENDING", 2*time.Second)
		time.Sleep(time.Second)
		m.set("a", "PROCESSING")
		m.expire("a", time.Hour)
		h.Event("job:a", "set")
		h.Event("job:a", "expire")
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		require.Equal(t, "PROCESSING", got)

		time.Sleep(testResync - 2*time.Second) // short of the safety re-read
		assert.Len(t, m.readsOf("a"), 2, "the first read and the set's")
		assert.Len(t, m.lookupsOf("a"), 2, "at the first tick, and the tick after the expire")
		assert.Empty(t, w.C(), "nothing changed for the waiter")
	})
}

// TestTTLsAreLookedUpOncePerHeldJob: a job held past a tick has its time
// to live looked up once however long it is held; one watched and let go
// before the tick (a short poll) costs none.
func TestTTLsAreLookedUpOncePerHeldJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, _ := watchedWithTTL(t, "PROCESSING", time.Hour)
		m.set("b", "PROCESSING")
		time.Sleep(testResync / 50) // between the guard's ticks
		for range 10 {
			w, _, err := h.Watch(t.Context(), "b")
			require.NoError(t, err)
			w.Close()
			time.Sleep(testResync / 20)
		}
		time.Sleep(3 * testResync)
		assert.Len(t, m.lookupsOf("a"), 1)
		assert.Empty(t, m.lookupsOf("b"))
	})
}

// TestFailedTTLLookupIsTriedAgain: a lookup that fails ends the tick's
// lookups (a Redis that does not answer holds the guard once, not once a
// batch), and every job is looked up again at the next tick.
func TestFailedTTLLookupIsTriedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		var mu sync.Mutex
		calls, failing := 0, true
		h := memHub(t, m, func(c *stream.Config[string]) {
			c.Batch = 2
			c.TTLs = func(ctx context.Context, ids []string) ([]time.Duration, error) {
				mu.Lock()
				calls++
				fail := failing
				mu.Unlock()
				if fail {
					return nil, errors.New("redis down")
				}
				return m.ttls(ctx, ids)
			}
		})
		for i := range 5 {
			id := fmt.Sprint(i)
			m.set(id, "PROCESSING")
			m.expire(id, time.Hour)
			w, _, err := h.Watch(t.Context(), id)
			require.NoError(t, err)
			t.Cleanup(w.Close)
		}
		time.Sleep(testResync/10 + time.Millisecond) // past the first tick
		mu.Lock()
		assert.Equal(t, 1, calls, "one failed lookup a tick")
		failing = false
		mu.Unlock()

		time.Sleep(testResync / 10) // past the second
		for i := range 5 {
			assert.Len(t, m.lookupsOf(fmt.Sprint(i)), 1, "job %d looked up at the next tick", i)
		}
	})
}
