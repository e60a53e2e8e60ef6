package stream_test

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

	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/stream"
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
	hub *stream.Hub[string]
	sub stream.Subscribe
}

// startClusterHub starts a cluster and a hub on it in mode, subscribing as
// sub says, and waits until the hub is ready.
func startClusterHub(t *testing.T, mode stream.Mode, sub stream.Subscribe) *clusterFixture {
	t.Helper()
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	return startHubOn(t, c, cc, mode, sub, clusterConn(t, cc))
}

// bothSubscriptions runs test once per way of subscribing, in parallel.
func bothSubscriptions(t *testing.T, test func(t *testing.T, sub stream.Subscribe)) {
	for _, sub := range []stream.Subscribe{stream.SubscribeKeys, stream.SubscribePattern} {
		t.Run(string(sub), func(t *testing.T) {
			t.Parallel()
			test(t, sub)
		})
	}
}

// clusterConn is a redisconn.Conn over cc, closed when the test ends.
func clusterConn(t *testing.T, cc *redis.ClusterClient) *redisconn.Conn {
	conn := redisconn.Of(cc)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// startHubOn starts a hub in mode on cluster c through r, subscribing as
// sub says, reading with cc, and waits until it is ready.
func startHubOn(t *testing.T, c *redistest.Cluster, cc *redis.ClusterClient, mode stream.Mode, sub stream.Subscribe, r stream.Redis) *clusterFixture {
	t.Helper()
	hub := stream.New(stream.Config[string]{
		Redis:     r,
		Pattern:   "job:*",
		Subscribe: sub,
		JobID:     func(key string) (string, bool) { return strings.CutPrefix(key, "job:") },
		Read:      clusterRead(cc),
		Same:      func(a, b string) bool { return a == b },
		Notify:    mode,
		Logger:    testLogger(t),
	})
	streamtest.Run(t, clusterBudget, "hub.Run", func(ctx context.Context) { _ = hub.Run(ctx) })
	f := &clusterFixture{c: c, cc: cc, hub: hub, sub: sub}
	streamtest.Eventually(t, clusterBudget, "hub ready", hub.Ready)
	require.Equal(t, mode, hub.Mode())
	return f
}

// waiter is a hub waiter with its job's id.
type waiter struct {
	*stream.Waiter[string]
	id string
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
func (f *clusterFixture) watch(t *testing.T, id, start string) waiter {
	t.Helper()
	f.set(t, id, start)
	ctx, cancel := context.WithTimeout(context.Background(), clusterBudget)
	defer cancel()
	w, st, err := f.hub.Watch(ctx, id)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	require.Equal(t, start, st)
	return waiter{w, id}
}

// await waits until w's state is want, or until deadline.
func await(w waiter, want string, deadline time.Time) error {
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
func awaitAll(t *testing.T, ws []waiter, want string) {
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

// anchorChannel is the channel every connection of keys mode subscribes.
const anchorChannel = "__keyspace@0__:job:jobwait-anchor"

// listeners is how many of the hub's subscriptions node serves: its
// pattern subscriptions, or with SubscribeKeys the subscribers of the
// channel every connection subscribes; -1 if node does not answer.
func (f *clusterFixture) listeners(node *redistest.Server) int64 {
	if f.sub == stream.SubscribeKeys {
		return numsub(node, anchorChannel)
	}
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

// numsub is how many clients of node subscribe to channel; -1 if node
// does not answer.
func numsub(node *redistest.Server, channel string) int64 {
	rc := redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := rc.PubSubNumSub(ctx, channel).Result()
	if err != nil {
		return -1
	}
	return n[channel]
}

func TestClusterWaitersOnEveryMasterAreAnswered(t *testing.T) {
	bothSubscriptions(t, testClusterWaitersOnEveryMaster)
}

func testClusterWaitersOnEveryMaster(t *testing.T, sub stream.Subscribe) {
	f := startClusterHub(t, stream.Keyspace, sub)
	for _, m := range f.c.Masters(t) {
		assert.Equal(t, int64(1), f.listeners(m), "master %s: one subscription", m.Addr())
	}
	var ws []waiter
	for _, ids := range f.spread(t, "every", 5) {
		for _, id := range ids {
			ws = append(ws, f.watch(t, id, "PENDING"))
		}
	}
	if sub == stream.SubscribeKeys {
		// Each job's channel on its master only.
		for _, w := range ws {
			owner := f.c.MasterOf(t, "job:"+w.id)
			for _, m := range f.c.Masters(t) {
				want := int64(0)
				if m == owner {
					want = 1
				}
				streamtest.EventuallyEqual(t, clusterBudget, "subscribers of job:"+w.id+" on "+m.Addr(), want,
					func() int64 { return numsub(m, "__keyspace@0__:job:"+w.id) })
			}
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
	bothSubscriptions(t, testClusterManualFailover)
}

func testClusterManualFailover(t *testing.T, sub stream.Subscribe) {
	f := startClusterHub(t, stream.Keyspace, sub)
	spread := f.spread(t, "manual", 4)
	var ws []waiter
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
		return f.listeners(promoted) == 1 && f.listeners(old) == 0 && f.hub.Ready()
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
	bothSubscriptions(t, testClusterMasterKilled)
}

func testClusterMasterKilled(t *testing.T, sub stream.Subscribe) {
	f := startClusterHub(t, stream.Keyspace, sub)
	spread := f.spread(t, "killed", 4)
	var ws []waiter
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
		return f.hub.Ready() && f.listeners(replica) == 1
	})

	// And after the failover, through the promoted replica's events.
	var after []waiter
	for _, id := range spread[victim] {
		after = append(after, f.watch(t, id+"-after", "PENDING"))
	}
	for _, w := range after {
		f.set(t, w.id, "COMPLETED")
	}
	awaitAll(t, after, "COMPLETED")
}

// While a node is subscribed twice (an old and a new master around a
// failover; here the master is handed to the hub twice more, once under
// another name and once as its replica, which publishes the writes it
// replicates), every event arrives several times, yet a waiter sees each
// change once. (A pattern subscription's: keys mode subscribes a key's
// channel on its master only.)
func TestClusterDoubleEventsAreDeliveredOnce(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	id := "double-1"
	master := c.MasterOf(t, "job:"+id)
	replica := c.ReplicaOf(t, master)
	cc := c.Client(t)
	extra := twice{Redis: clusterConn(t, cc)}
	for _, node := range []*redistest.Server{master, replica} {
		extra.nodes = append(extra.nodes, redisconn.Node("again "+node.Addr(), node.Client(t)))
	}
	f := startHubOn(t, c, cc, stream.Keyspace, stream.SubscribePattern, extra)

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
	streamtest.Eventually(t, clusterBudget, "reads done", func() bool { return f.hub.Settled(id) })
	select {
	case <-w.C():
		got, _ := w.Latest()
		t.Errorf("duplicate delivery: woken again with %q", got)
	default:
	}
}

// twice is a Redis whose publishers are its own and nodes besides.
type twice struct {
	stream.Redis
	nodes []stream.Node
}

func (r twice) Publishers(ctx context.Context) (stream.Publishers, error) {
	p, err := r.Redis.Publishers(ctx)
	p.Masters = append(p.Masters, r.nodes...)
	return p, err
}

// Poll mode on a cluster: one pipelined read per tick, split by node.
func TestClusterPollMode(t *testing.T) {
	t.Parallel()
	f := startClusterHub(t, stream.Poll, stream.SubscribeKeys)
	var ws []waiter
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

// A slot migrated to another master while a job of it is watched (as
// redis-cli --cluster reshard does): a write to the job after its key
// moved, while the slot is still the source's, and one after the
// migration, both reach the waiter; under SubscribeKeys the job's channel
// follows its key to the target and leaves the source.
func TestClusterSlotMigrated(t *testing.T) {
	bothSubscriptions(t, testClusterSlotMigrated)
}

func testClusterSlotMigrated(t *testing.T, sub stream.Subscribe) {
	f := startClusterHub(t, stream.Keyspace, sub)
	id := "moving-1"
	key := "job:" + id
	w := f.watch(t, id, "PENDING")
	from := f.c.MasterOf(t, key)
	var to *redistest.Server
	for _, m := range f.c.Masters(t) {
		if m != from {
			to = m
			break
		}
	}
	channel := "__keyspace@0__:" + key
	if sub == stream.SubscribeKeys {
		streamtest.EventuallyEqual(t, clusterBudget, "subscribers on the source", int64(1), func() int64 { return numsub(from, channel) })
	}

	m := f.c.BeginMigration(t, f.c.Slot(t, key), from, to)
	m.MoveKeys(t, key)
	f.set(t, id, "PROCESSING") // on the target, by ASK: its event is the target's
	m.Finish(t)
	require.NoError(t, await(w, "PROCESSING", time.Now().Add(clusterBudget)))

	if sub == stream.SubscribeKeys {
		streamtest.EventuallyEqual(t, clusterBudget, "subscribers on the target", int64(1), func() int64 { return numsub(to, channel) })
	}
	f.set(t, id, "COMPLETED")
	require.NoError(t, await(w, "COMPLETED", time.Now().Add(clusterBudget)))
	if sub == stream.SubscribeKeys {
		w.Close() // its channels linger, then leave
		streamtest.EventuallyEqual(t, clusterBudget, "subscribers on the source", int64(0), func() int64 { return numsub(from, channel) })
		streamtest.EventuallyEqual(t, clusterBudget, "subscribers on the target", int64(0), func() int64 { return numsub(to, channel) })
	}
}
