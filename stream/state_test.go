package stream_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/stream"
)

// The moves of a watched job's state (entry.go) that only a running hub
// shows, on the in-memory store of fake_test.go under a fake clock: what
// comes during a safety re-read, and a job left during its read.

// duringSafetyRead changes job "a" with no notification, and calls f once
// inside the safety re-read that finds the change (Resync after the
// Watch's read).
func duringSafetyRead(t *testing.T, f func(h *stream.Hub[string])) (*memStore, *stream.Hub[string]) {
	m, h, _ := watched(t, "PROCESSING")
	m.set("a", "COMPLETED")
	m.onceDuring(func() { f(h) })
	return m, h
}

// TestWatchDuringSafetyReadLeavesItUnannounced: a Watch of a job being
// safety re-read asks for one more read, and announces nothing: the change
// the re-read finds is one no notification announced, and makes the hub
// blind.
func TestWatchDuringSafetyReadLeavesItUnannounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		watching := make(chan string, 1)
		m, h := duringSafetyRead(t, func(h *stream.Hub[string]) {
			go func() {
				w, st, err := h.Watch(t.Context(), "a")
				if err == nil {
					w.Close()
				}
				watching <- st
			}()
			for h.Stats().Waiters < 2 {
				time.Sleep(time.Millisecond)
			}
		})
		select {
		case st := <-watching:
			assert.Equal(t, "COMPLETED", st, "the Watch's own read")
		case <-time.After(testResync + time.Second):
			t.Fatal("the Watch during the safety re-read was not answered")
		}
		synctest.Wait()
		assert.Len(t, m.readsOf("a"), 3, "the first read, the safety re-read and one more for the Watch")
		time.Sleep(stream.DefaultConfirmDelay + testResync/10)
		blind := h.Stats().Blind
		assert.True(t, blind, "the change was announced by no notification")
		assert.EqualValues(t, 1, h.Stats().Unannounced)
	})
}

// TestNotificationDuringSafetyReadAnnouncesIt: a notification of a job
// being safety re-read announces the change the re-read finds (no
// blindness), and the job is read once more.
func TestNotificationDuringSafetyReadAnnouncesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h := duringSafetyRead(t, func(h *stream.Hub[string]) { h.Notify("job:a") })
		time.Sleep(testResync + testResync/10)
		assert.Len(t, m.readsOf("a"), 3, "the first read, the safety re-read and one more for the notification")
		time.Sleep(testResync)
		assertNotBlind(t, h)
	})
}

// TestJobLeftDuringItsReadIsNotReadAgain: a job whose last waiter leaves
// during its read is forgotten, and not read again for a notification that
// came meanwhile.
func TestJobLeftDuringItsReadIsNotReadAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, h, w := watched(t, "PROCESSING")
		m.onceDuring(func() {
			h.Notify("job:a")
			w.Close()
		})
		m.set("a", "COMPLETED")
		h.Notify("job:a")
		synctest.Wait()
		time.Sleep(2 * testResync)
		assert.Len(t, m.readsOf("a"), 2, "the Watch's read and the notified one")
		assert.Zero(t, h.Stats().Jobs)
		require.Zero(t, h.Stats().Waiters)
	})
}
