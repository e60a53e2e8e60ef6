package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
	"jobwait/stream/streamtest"
)

// The hub on a Redis Cluster: one subscription per master, following
// failovers. Each test has a cluster of its own (its topology changes), so
// they run in parallel. The hub's state here is the raw value of job:{id}
// ("" when missing): enough to see each change arrive once.

// clusterBudget bounds every wait of these tests, failovers included.
const clusterBudget = 15 * time.Second

type clusterFixture struct {
	c   *redistest.Cluster
	cc  *redis.ClusterClient
	hub *Hub[string]
}

// startClusterHub starts a cluster and a hub on it in mode, and waits until
// the hub is ready.
func startClusterHub(t *testing.T, mode Mode) *clusterFixture {
	t.Helper()
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	hub := New(Config[string]{
		Client:  cc,
		Pattern: "job:*",
		JobID:   func(key string) (string, bool) { return strings.CutPrefix(key, "job:") },
		Read:    clusterRead(cc),
		Same:    func(a, b string) bool { return a == b },
		Notify:  mode,
		Logger:  testLogger(t),
	})
	streamtest.Run(t, clusterBudget, "hub.Run", func(ctx context.Context) { _ = hub.Run(ctx) })
	f := &clusterFixture{c: c, cc: cc, hub: hub}
	streamtest.Eventually(t, clusterBudget, "hub ready", hub.Ready)
	require.Equal(t, mode, hub.Mode())
	return f
}

// clusterRead reads jobs in one pipeline, which go-redis splits by node.
func clusterRead(cc *redis.ClusterClient) func(ctx context.Context, ids, _ []string) ([]string, error) {
	return func(ctx context.Context, ids, _ []string) ([]string, error) {
		p := cc.Pipeline()
		cmds := make([]*redis.StringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = p.Get(ctx, "job:"+id)
		}
		_, _ = p.Exec(ctx)
		out := make([]string, len(ids))
		for i, cmd := range cmds {
			v, err := cmd.Result()
			if err != nil && err != redis.Nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

// testLogger writes the hub's log to the test's, shown when it fails.
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// spread returns n job ids per master, each id in the slots of its master.
func (f *clusterFixture) spread(t *testing.T, prefix string, n int) map[*redistest.Server][]string {
	t.Helper()
	masters := f.c.Masters(t)
	require.Len(t, masters, 3)
	out := make(map[*redistest.Server][]string)
	for i := 0; len(out) < 3 || !full(out, n); i++ {
		require.Less(t, i, 1000, "ids do not spread over the masters")
		id := fmt.Sprintf("%s-%d", prefix, i)
		m := f.c.MasterOf(t, "job:"+id)
		if len(out[m]) < n {
			out[m] = append(out[m], id)
		}
	}
	return out
}

func full(m map[*redistest.Server][]string, n int) bool {
	for _, ids := range m {
		if len(ids) < n {
			return false
		}
	}
	return true
}

// set writes job:{id}, retrying while its slot has no master (a failover).
func (f *clusterFixture) set(t *testing.T, id, val string) {
	t.Helper()
	deadline := time.Now().Add(clusterBudget)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := f.cc.Set(ctx, "job:"+id, val, time.Hour).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("SET job:%s: %v", id, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watch registers a waiter on id, which holds start.
func (f *clusterFixture) watch(t *testing.T, id, start string) *Waiter[string] {
	t.Helper()
	f.set(t, id, start)
	ctx, cancel := context.WithTimeout(context.Background(), clusterBudget)
	defer cancel()
	w, st, err := f.hub.Watch(ctx, id)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	require.Equal(t, start, st)
	return w
}

// await waits until w's state is want, or until deadline.
func await(w *Waiter[string], want string, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		if st, _ := w.Latest(); st == want {
			return nil
		}
		select {
		case <-w.C():
		case <-timer.C:
			st, _ := w.Latest()
			return fmt.Errorf("job %s: state %q, want %q", w.id, st, want)
		}
	}
}

// awaitAll waits for every waiter to reach want; all share one deadline.
func awaitAll(t *testing.T, ws []*Waiter[string], want string) {
	t.Helper()
	deadline := time.Now().Add(clusterBudget)
	errs := make(chan error, len(ws))
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { errs <- await(w, want, deadline) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// numpat is how many pattern subscriptions node serves.
func numpat(node *redistest.Server) int64 {
	rc := redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := rc.PubSubNumPat(ctx).Result()
	if err != nil {
		return -1
	}
	return n
}

func TestClusterWaitersOnEveryMasterAreAnswered(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, Keyspace)
	for _, m := range f.c.Masters(t) {
		assert.Equal(t, int64(1), numpat(m), "master %s: one subscription", m.Addr())
	}
	var ws []*Waiter[string]
	for _, ids := range f.spread(t, "every", 5) {
		for _, id := range ids {
			ws = append(ws, f.watch(t, id, "PENDING"))
		}
	}
	reads := f.hub.Stats().Reads
	for _, w := range ws {
		f.set(t, w.id, "COMPLETED")
	}
	awaitAll(t, ws, "COMPLETED")
	st := f.hub.Stats()
	assert.GreaterOrEqual(t, st.Notifications, uint64(len(ws)), "changes learnt from every master")
	assert.Less(t, st.Reads-reads, uint64(3*len(ws)), "no read storm")
	assert.True(t, f.hub.Ready())
}

// A manual failover (CLUSTER FAILOVER on a replica): the hub subscribes to
// the promoted replica, drops the demoted master, and waiters of jobs that
// complete during and after the failover are answered.
func TestClusterManualFailover(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, Keyspace)
	spread := f.spread(t, "manual", 4)
	var ws []*Waiter[string]
	for _, ids := range spread {
		for _, id := range ids {
			ws = append(ws, f.watch(t, id, "PENDING"))
		}
	}
	old := f.c.MasterOf(t, "job:"+ws[0].id)
	promoted := f.c.ReplicaOf(t, old)
	f.c.Failover(t, promoted)

	// Half complete while the hub may not have followed yet, half after.
	half := len(ws) / 2
	for _, w := range ws[:half] {
		f.set(t, w.id, "COMPLETED")
	}
	streamtest.Eventually(t, clusterBudget, "hub subscribed to the promoted replica", func() bool {
		return numpat(promoted) == 1 && numpat(old) == 0 && f.hub.Ready()
	})
	for _, w := range ws[half:] {
		f.set(t, w.id, "COMPLETED")
	}
	awaitAll(t, ws, "COMPLETED")
}

// A master killed outright: until its replica is promoted the hub is not
// ready; waiters of jobs on every master, the dead one's included, are
// answered once their jobs complete, none past the budget.
func TestClusterMasterKilled(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, Keyspace)
	spread := f.spread(t, "killed", 4)
	var ws []*Waiter[string]
	for _, ids := range spread {
		for _, id := range ids {
			ws = append(ws, f.watch(t, id, "PROCESSING"))
		}
	}
	victim := f.c.MasterOf(t, "job:"+ws[0].id)
	replica := f.c.ReplicaOf(t, victim)
	f.c.Kill(victim)
	streamtest.Eventually(t, clusterBudget, "hub not ready without the killed master", func() bool { return !f.hub.Ready() })

	var wg sync.WaitGroup
	for _, w := range ws { // retried until the slot has a master again
		wg.Go(func() { f.set(t, w.id, "COMPLETED") })
	}
	wg.Wait()
	awaitAll(t, ws, "COMPLETED")
	streamtest.Eventually(t, clusterBudget, "hub ready on the promoted replica", func() bool {
		return f.hub.Ready() && numpat(replica) == 1
	})

	// And after the failover, through the promoted replica's events.
	var after []*Waiter[string]
	for _, id := range spread[victim] {
		after = append(after, f.watch(t, id+"-after", "PENDING"))
	}
	for _, w := range after {
		f.set(t, w.id, "COMPLETED")
	}
	awaitAll(t, after, "COMPLETED")
}

// While a node is subscribed twice (an old and a new master around a
// failover; here the hub's own subscription plus two more, one on the
// master and one on its replica, which publishes the writes it replicates),
// every event arrives several times, yet a waiter sees each change once.
func TestClusterDoubleEventsAreDeliveredOnce(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, Keyspace)
	id := "double-1"
	master := f.c.MasterOf(t, "job:"+id)
	replica := f.c.ReplicaOf(t, master)
	ctx, cancel := context.WithCancel(context.Background())
	var extra sync.WaitGroup
	t.Cleanup(func() { cancel(); extra.Wait() })
	prefix := channelPrefix(0)
	for _, node := range []*redistest.Server{master, replica} {
		rc := redis.NewClient(&redis.Options{Addr: node.Addr()})
		t.Cleanup(func() { rc.Close() })
		ps := rc.PSubscribe(ctx, prefix+"job:*")
		t.Cleanup(func() { ps.Close() })
		_, err := ps.Receive(ctx) // the confirmation
		require.NoError(t, err)
		extra.Go(func() { _ = f.hub.receive(ctx, ps, len(prefix), &backoff{}, func() {}) })
	}

	w := f.watch(t, id, "PENDING")
	before := f.hub.Stats().Notifications
	var seen []string
	for _, st := range []string{"PROCESSING", "COMPLETED"} {
		f.set(t, id, st)
		select {
		case <-w.C():
			got, _ := w.Latest()
			seen = append(seen, got)
		case <-time.After(clusterBudget):
			t.Fatalf("no wake-up for %s", st)
		}
	}
	assert.Equal(t, []string{"PROCESSING", "COMPLETED"}, seen)

	// Every copy of both events arrived and was read: no wake-up is left.
	streamtest.Eventually(t, clusterBudget, "three copies of each event", func() bool {
		return f.hub.Stats().Notifications-before >= 6
	})
	streamtest.Eventually(t, clusterBudget, "reads done", func() bool {
		f.hub.mu.Lock()
		defer f.hub.mu.Unlock()
		e := f.hub.jobs[id]
		return !e.queued && !e.reading
	})
	select {
	case <-w.C():
		got, _ := w.Latest()
		t.Errorf("duplicate delivery: woken again with %q", got)
	default:
	}
}

// Poll mode on a cluster: one pipelined read per tick, split by node.
func TestClusterPollMode(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, Poll)
	var ws []*Waiter[string]
	for _, ids := range f.spread(t, "poll", 3) {
		for _, id := range ids {
			ws = append(ws, f.watch(t, id, "PENDING"))
		}
	}
	for _, w := range ws {
		f.set(t, w.id, "FAILED")
	}
	awaitAll(t, ws, "FAILED")
	assert.Zero(t, f.hub.Stats().Notifications)
}

func TestFromShards(t *testing.T) {
	node := func(port int64, role, health string) redis.Node {
		return redis.Node{IP: "10.0.0.1", Endpoint: "10.0.0.1", Port: port, Role: role, Health: health}
	}
	slots := []redis.SlotRange{{Start: 0, End: 99}}
	tests := []struct {
		name    string
		shards  []redis.ClusterShard
		masters []string
		nodes   []string
	}{
		{"master and replica", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "online"), node(2, "replica", "loading")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1", "10.0.0.1:2"}},
		{"master without slots is subscribed", []redis.ClusterShard{{Nodes: []redis.Node{node(1, "master", "online")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1"}},
		{"failed master replaced in its shard", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "fail"), node(2, "master", "online")}}},
			[]string{"10.0.0.1:2"}, []string{"10.0.0.1:2"}},
		{"failed master without slots is dropped", []redis.ClusterShard{
			{Slots: slots, Nodes: []redis.Node{node(2, "master", "online")}},
			{Nodes: []redis.Node{node(1, "master", "fail")}}},
			[]string{"10.0.0.1:2"}, []string{"10.0.0.1:2"}},
		{"failed master still owning slots is kept", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "fail"), node(2, "replica", "fail")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1"}},
	}
	c := &cluster[string]{opts: &redis.ClusterOptions{}}
	for _, tt := range tests {
		got := c.fromShards(tt.shards, func(a string) string { return a })
		assert.Equal(t, tt.masters, got.masters, "%s: masters", tt.name)
		assert.Equal(t, tt.nodes, got.nodes, "%s: nodes", tt.name)
	}
}

func TestFromSlotsShape(t *testing.T) {
	slots := []redis.ClusterSlot{
		{Start: 100, End: 199, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:1"}, {Addr: "10.0.0.1:2"}}},
		{Start: 0, End: 99, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:1"}}},
		{Start: 200, End: 299, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:3"}}},
	}
	got := fromSlots(slots, func(a string) string { return a })
	assert.Equal(t, []string{"10.0.0.1:1", "10.0.0.1:3"}, got.masters)
	assert.Equal(t, "10.0.0.1:1 0-99,100-199;10.0.0.1:3 200-299", got.shape)
	assert.Equal(t, []string{"10.0.0.1:1", "10.0.0.1:3", "10.0.0.1:2"}, got.nodes)
}

// TestNodesAsGoRedisHasThem: the hub names every master as go-redis routes
// to it, and its own node clients carry the options go-redis gives its own
// (here the client name and timeouts), not a hand-made subset.
func TestNodesAsGoRedisHasThem(t *testing.T) {
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), clusterBudget)
	defer cancel()
	var mu sync.Mutex
	var theirs []string
	var want *redis.Options
	require.NoError(t, cc.ForEachMaster(ctx, func(_ context.Context, rc *redis.Client) error {
		mu.Lock()
		want = rc.Options()
		theirs = append(theirs, rc.Options().Addr)
		mu.Unlock()
		return nil
	}))
	cl := &cluster[string]{
		h:       New(Config[string]{Logger: testLogger(t)}),
		cc:      cc,
		opts:    cc.Options(),
		nodes:   learnNodes(ctx, cc),
		clients: make(map[string]*redis.Client),
	}
	defer func() {
		for _, rc := range cl.clients {
			rc.Close()
		}
	}()
	top, err := cl.topology(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, theirs, top.masters)

	rc, err := cl.client(top.masters[0])
	require.NoError(t, err)
	o := rc.Options()
	assert.Equal(t, top.masters[0], o.Addr)
	assert.Equal(t, want.DialTimeout, o.DialTimeout)
	assert.Equal(t, want.ReadTimeout, o.ReadTimeout)
	assert.Equal(t, want.PoolTimeout, o.PoolTimeout)
	assert.Equal(t, want.ClientName, o.ClientName)
	assert.Equal(t, want.DialerRetries, o.DialerRetries)
	assert.Equal(t, 2, o.PoolSize)
	require.NoError(t, rc.Ping(ctx).Err())
}

// TestClusterLiveOnlyWhileEveryMasterIs: the hub is ready while every
// current master's subscription is confirmed; one master lost makes it not
// ready and counts one reconnect; a subscription of a node no longer a
// master changes nothing.
func TestClusterLiveOnlyWhileEveryMasterIs(t *testing.T) {
	h := New(Config[string]{Logger: testLogger(t)})
	h.mode.Store(Keyspace)
	a, b, old := &nodeSub{addr: "a"}, &nodeSub{addr: "b"}, &nodeSub{addr: "old"}
	c := &cluster[string]{h: h, subs: map[string]*nodeSub{"a": a, "b": b}, check: make(chan struct{}, 1)}

	c.confirmed(a)
	assert.False(t, h.Ready(), "b not confirmed yet")
	c.confirmed(b)
	assert.True(t, h.Ready())
	c.confirmed(old)
	c.lost(old, fmt.Errorf("gone"))
	assert.True(t, h.Ready(), "a former master's subscription is no master's")

	c.lost(a, fmt.Errorf("connection reset"))
	assert.False(t, h.Ready())
	c.lost(a, fmt.Errorf("connection refused"))
	assert.EqualValues(t, 1, h.Stats().Reconnects, "one outage, one reconnect")
	c.confirmed(a)
	assert.True(t, h.Ready())
	assert.EqualValues(t, 3, h.Stats().Resyncs, "each current master's confirmation re-reads")
}
