package stream_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// The subscription set of keys mode (subs.go, keyspace.go), one rule a test,
// on fake nodes (fakenode_test.go) and the in-memory store of
// fake_test.go, under a fake clock: what is subscribed when, in how many
// commands, and which jobs each confirmation reads.

const (
	testWindow = 10 * time.Millisecond
	testLinger = 2 * time.Second
)

// keysFixture is a hub in keys mode over fake nodes.
type keysFixture struct {
	m     *memStore
	redis *fakeRedis
	nodes map[string]*fakeNode
	hub   *stream.Hub[string]
}

// keysHub runs a hub in keys mode on nodes (one named "a" if none), every
// job's record and error message as its keys, and waits until it is live.
func keysHub(t *testing.T, m *memStore, names ...string) *keysFixture {
	t.Helper()
	if len(names) == 0 {
		names = []string{"a"}
	}
	f := &keysFixture{m: m, redis: &fakeRedis{}, nodes: map[string]*fakeNode{}}
	for _, name := range names {
		n := newFakeNode(name)
		f.nodes[name] = n
		f.redis.masters = append(f.redis.masters, n)
	}
	f.hub = stream.New(stream.Config[string]{
		Redis:           f.redis,
		Pattern:         "job:*",
		Keys:            func(id string) []string { return []string{"job:" + id, "job:" + id + ":error"} },
		JobID:           func(key string) (string, bool) { return strings.CutPrefix(strings.TrimSuffix(key, ":error"), "job:") },
		Read:            m.read,
		Same:            func(a, b string) bool { return a == b },
		Notify:          stream.Keyspace,
		TrustFlags:      true,
		Subscribe:       stream.SubscribeKeys,
		SubscribeWindow: testWindow,
		Linger:          testLinger,
		Resync:          time.Hour, // no safety re-read in these tests' reads
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	streamtest.Run(t, 10*time.Second, "Run", func(ctx context.Context) { _ = f.hub.Run(ctx) })
	synctest.Wait()
	require.True(t, f.hub.Ready(), "live on every node")
	return f
}

// settle lets a window pass, so that what was wanted is subscribed, and
// waits for the hub to be idle.
func settle() {
	time.Sleep(testWindow)
	synctest.Wait()
}

// node is the only node's fake.
func (f *keysFixture) node() *fakeNode { return f.nodes["a"] }

// watch registers a waiter of id, closed when the test ends unless before.
func (f *keysFixture) watch(t *testing.T, id string) (*stream.Waiter[string], string) {
	t.Helper()
	w, st, err := f.hub.Watch(t.Context(), id)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	return w, st
}

// watchResult is what Watch returned.
type watchResult struct {
	w   *stream.Waiter[string]
	st  string
	err error
}

// watching starts a Watch of id and returns, once it does, what it
// returned; the waiter is closed when the test ends.
func (f *keysFixture) watching(t *testing.T, id string) <-chan watchResult {
	ch := make(chan watchResult, 1)
	go func() {
		w, st, err := f.hub.Watch(t.Context(), id)
		if err == nil {
			t.Cleanup(w.Close)
		}
		ch <- watchResult{w, st, err}
	}()
	return ch
}

// write changes job id in the store and publishes its event on node.
func (f *keysFixture) write(id, v string, node *fakeNode) {
	f.m.set(id, v)
	node.publish("job:"+id, "set")
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// chans is the channels of jobs' keys.
func chans(ids ...string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, fakePrefix+"job:"+id, fakePrefix+"job:"+id+":error")
	}
	return out
}

// TestKeysOneSubscribePerWindow: the channels of jobs first watched within
// one window share one SUBSCRIBE, sent a window after the first; a job
// watched twice is subscribed once; each Watch reads its job at once and
// returns, and the confirmation of the job's channels reads it again.
func TestKeysOneSubscribePerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		f := keysHub(t, m)
		opening := len(f.node().commands("subscribe"))
		start := time.Now()
		var watches []<-chan watchResult
		for _, id := range []string{"x", "y", "x", "z"} {
			m.set(id, "PENDING")
			watches = append(watches, f.watching(t, id))
			time.Sleep(testWindow / 4)
		}
		settle()
		for _, r := range watches {
			res := <-r
			require.NoError(t, res.err)
			assert.Equal(t, "PENDING", res.st)
		}
		subs := f.node().commands("subscribe")[opening:]
		require.Len(t, subs, 1, "one SUBSCRIBE for the window")
		assert.ElementsMatch(t, chans("x", "y", "z"), subs[0].channels)
		assert.Equal(t, testWindow, subs[0].at.Sub(start), "sent a window after the first want")
		assert.Equal(t, chans("x", "y", "z"), sorted(f.node().subscribed()))
		for id, watches := range map[string]int{"x": 2, "y": 1, "z": 1} {
			reads := m.readsOf(id)
			require.Len(t, reads, watches+1, "%s: read by each Watch, and at its confirmation", id)
			assert.Equal(t, testWindow, reads[watches].Sub(start), "%s: read again as its channels are confirmed", id)
		}

		m.set("w", "PENDING")
		f.watch(t, "w")
		settle()
		subs = f.node().commands("subscribe")[opening:]
		require.Len(t, subs, 2, "a want after the window: the next SUBSCRIBE")
		assert.Equal(t, chans("w"), subs[1].channels)
	})
}

// TestKeysRefcountAndLinger: a job's channels stay subscribed while any
// held waiter of it is left, and for the linger after the last leaves;
// then one UNSUBSCRIBE drops them. A waiter that comes back within the
// linger finds them subscribed: no command at all, and no wait for one.
func TestKeysRefcountAndLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("x", "PENDING")
		f := keysHub(t, m)
		w1, _ := f.watch(t, "x")
		w2, _ := f.watch(t, "x")
		settle()
		subscribes := len(f.node().commands("subscribe"))

		w1.Close()
		time.Sleep(2 * testLinger)
		assert.Empty(t, f.node().commands("unsubscribe"), "a waiter is left")
		w2.Close()
		time.Sleep(testLinger / 2)
		synctest.Wait()
		assert.Empty(t, f.node().commands("unsubscribe"), "lingering")

		// Back within the linger: subscribed, and the hub trusts it at once.
		w3, st := f.watch(t, "x")
		assert.Equal(t, "PENDING", st)
		settle()
		assert.Len(t, f.node().commands("subscribe"), subscribes, "no SUBSCRIBE for a lingering channel")
		f.write("x", "COMPLETED", f.node())
		got, ok := next(t, w3, time.Second)
		assert.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
		w3.Close()

		left := time.Now()
		time.Sleep(testLinger + testWindow)
		synctest.Wait()
		unsubs := f.node().commands("unsubscribe")
		require.Len(t, unsubs, 1)
		assert.ElementsMatch(t, chans("x"), unsubs[0].channels)
		assert.Equal(t, testLinger+testWindow, unsubs[0].at.Sub(left), "a linger after the last waiter left, and a window for the others")
		assert.Empty(t, f.node().subscribed())
		assert.Equal(t, 0, f.hub.Stats().Channels)
	})
}

// TestKeysConfirmationReadsThatJob: a Watch returns its job's state
// before the job's channels are confirmed; a change written meanwhile,
// published to nobody, reaches the waiter, since the confirmation reads
// that job, and no other watched job.
func TestKeysConfirmationReadsThatJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		f := keysHub(t, m)
		for _, id := range []string{"a", "b", "c"} {
			m.set(id, "PENDING")
		}
		f.watch(t, "a")
		f.watch(t, "b")
		settle()
		ra, rb := len(m.readsOf("a")), len(m.readsOf("b"))

		f.node().holdCommands()
		w, st := f.watch(t, "c")
		assert.Equal(t, "PENDING", st, "answered before the confirmation")
		settle()
		subs := f.node().commands("subscribe")
		require.Equal(t, chans("c"), subs[len(subs)-1].channels, "c's SUBSCRIBE, not processed yet")
		f.write("c", "COMPLETED", f.node()) // published to nobody
		f.node().release()
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got, "the write made before the confirmation")
		assert.Zero(t, f.hub.Stats().Notifications)
		assert.Len(t, m.readsOf("c"), 2, "read by the Watch, and at the confirmation")
		assert.Len(t, m.readsOf("a"), ra, "no other job read")
		assert.Len(t, m.readsOf("b"), rb, "no other job read")
	})
}

// TestKeysConnectionLostBeforeTheConfirmation: a job whose channels were
// never confirmed, the connection lost first, is followed all the same:
// polled meanwhile, then subscribed by the next connection.
func TestKeysConnectionLostBeforeTheConfirmation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("x", "PENDING")
		f := keysHub(t, m)
		f.node().holdCommands()
		w, st := f.watch(t, "x")
		assert.Equal(t, "PENDING", st)
		settle()
		f.node().cutAll()
		f.node().release()
		time.Sleep(3 * time.Second) // the hub's backoff, and its polls meanwhile
		synctest.Wait()
		require.True(t, f.hub.Ready())
		m.set("x", "COMPLETED")
		f.node().publish("job:x", "set")
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
	})
}

// TestKeysShortPollSubscribesNothing: Peek of a job nobody holds reads it
// and subscribes nothing; Peek of a held job whose channels are confirmed
// is answered from the hub's knowledge, with no read.
func TestKeysShortPollSubscribesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("polled", "PENDING")
		m.set("held", "PROCESSING")
		f := keysHub(t, m)
		opening := len(f.node().commands("subscribe"))
		for range 3 {
			st, err := f.hub.Peek(t.Context(), "polled")
			require.NoError(t, err)
			assert.Equal(t, "PENDING", st)
			time.Sleep(2 * testWindow)
		}
		synctest.Wait()
		assert.Len(t, f.node().commands("subscribe"), opening, "no SUBSCRIBE for short polls")
		assert.Empty(t, f.node().commands("unsubscribe"))
		assert.Len(t, m.readsOf("polled"), 3)

		f.watch(t, "held")
		settle()
		reads := len(m.readsOf("held"))
		st, err := f.hub.Peek(t.Context(), "held")
		require.NoError(t, err)
		assert.Equal(t, "PROCESSING", st)
		assert.Len(t, m.readsOf("held"), reads, "answered from the hub's knowledge")
	})
}

// TestKeysReconnectSubscribesTheWholeSet: a connection that ends is
// replaced by one whose opening subscribes every wanted channel (lingering
// ones left out), and every watched job is read again.
func TestKeysReconnectSubscribesTheWholeSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		f := keysHub(t, m)
		for _, id := range []string{"a", "b", "gone"} {
			m.set(id, "PENDING")
		}
		wa, _ := f.watch(t, "a")
		f.watch(t, "b")
		wg, _ := f.watch(t, "gone")
		settle()
		wg.Close() // lingering now
		reads := len(m.readsOf("a"))

		f.node().cutAll()
		synctest.Wait()
		f.write("a", "PROCESSING", f.node()) // while no connection is open
		time.Sleep(3 * time.Second)          // the hub's backoff
		synctest.Wait()
		require.True(t, f.hub.Ready())
		subs := f.node().commands("subscribe")
		last := subs[len(subs)-1]
		assert.Equal(t, 1, last.conn, "on the new connection")
		assert.ElementsMatch(t, append([]string{fakePrefix + "job:jobwait-anchor"}, chans("a", "b")...), last.channels, "one SUBSCRIBE of the whole set")
		assert.Equal(t, chans("a", "b"), sorted(f.node().subscribed()))
		assert.Greater(t, len(m.readsOf("a")), reads, "every watched job read again")
		st, _ := wa.Latest()
		assert.Equal(t, "PROCESSING", st, "the change made while unsubscribed")
	})
}

// TestKeysWantedWhileUnsubscribing: a job watched again while its
// UNSUBSCRIBE is in flight is subscribed again once that is answered,
// never before (one command of a channel in flight at a time), and read
// once its channels are confirmed.
func TestKeysWantedWhileUnsubscribing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("x", "PENDING")
		f := keysHub(t, m)
		w, _ := f.watch(t, "x")
		settle()
		w.Close()
		f.node().holdCommands()
		time.Sleep(testLinger + testWindow)
		synctest.Wait()
		require.Len(t, f.node().commands("unsubscribe"), 1, "UNSUBSCRIBE sent, not answered")
		subscribes := len(f.node().commands("subscribe"))

		w, _ = f.watch(t, "x")
		time.Sleep(3 * testWindow)
		synctest.Wait()
		assert.Len(t, f.node().commands("subscribe"), subscribes, "nothing sent while the UNSUBSCRIBE is in flight")
		m.set("x", "COMPLETED")
		f.node().release()
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got, "read once subscribed again")
		assert.Equal(t, chans("x"), sorted(f.node().subscribed()))
	})
}

// TestKeysRoutedToTheirMasters: each key's channel is subscribed on the
// master that publishes it; when the keys move to another master (slots
// moved, a failover), the channels follow: subscribed there, the job read
// once they are confirmed, and dropped where they were.
func TestKeysRoutedToTheirMasters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemStore()
		m.set("x", "PENDING")
		f := keysHub(t, m, "a", "b")
		onB := func(key string) string {
			if strings.HasSuffix(key, ":error") {
				return "b"
			}
			return "a"
		}
		f.redis.reroute("split", onB)
		time.Sleep(2 * time.Second) // the hub asks for the publishers every second
		w, _ := f.watch(t, "x")
		settle()
		assert.Equal(t, []string{fakePrefix + "job:x"}, f.nodes["a"].subscribed())
		assert.Equal(t, []string{fakePrefix + "job:x:error"}, f.nodes["b"].subscribed())

		f.redis.reroute("all on b", func(string) string { return "b" })
		time.Sleep(time.Second)
		settle()
		assert.Equal(t, chans("x"), sorted(f.nodes["b"].subscribed()))
		f.write("x", "COMPLETED", f.nodes["b"])
		got, ok := next(t, w, time.Second)
		require.True(t, ok)
		assert.Equal(t, "COMPLETED", got)
		time.Sleep(testLinger + testWindow)
		synctest.Wait()
		assert.Empty(t, f.nodes["a"].subscribed(), "dropped where it was, after its linger")
	})
}
