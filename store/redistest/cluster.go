package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// CLIHint is what a test says when redis-cli is missing.
const CLIHint = "redis-cli not found in PATH: install it with `apt-get install -y redis-server redis-tools` (or run `make test`, which does)"

// clusterNodeTimeout is each node's cluster-node-timeout: a killed master is
// failed over within about two of these.
const clusterNodeTimeout = "1000"

// clusterWait bounds forming the cluster and each failover.
const clusterWait = 20 * time.Second

// Cluster is a private Redis Cluster of three masters and three replicas on
// loopback ports, for tests that change its topology. Its nodes are stopped
// when the test ends.
type Cluster struct {
	Nodes    []*Server // in the order given to redis-cli --cluster create
	TLSPorts []int     // each node's TLS port (StartClusterTLS only)
}

// StartCluster starts six cluster-enabled redis-servers, joins them into
// three masters with one replica each and waits until every node reports
// cluster_state:ok.
func StartCluster(tb testing.TB) *Cluster { return startCluster(tb, nil) }

// StartClusterTLS starts the cluster of StartCluster with TLS on a second
// port of each node (replication and the cluster bus over TLS too); TLSURL
// is its rediss:// URL. The plain ports stay open for the tests' own
// clients, and Redis tells each client the ports of its own kind.
func StartClusterTLS(tb testing.TB, t *TLS) *Cluster { return startCluster(tb, t) }

func startCluster(tb testing.TB, t *TLS) *Cluster {
	tb.Helper()
	SkipIfShort(tb)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Fatal(CLIHint)
	}
	c := &Cluster{}
	for range 6 {
		var tp int // the node's TLS port, if any
		args := func() ([]string, error) {
			// The bus port is set explicitly: the default (port + 10000)
			// may fall outside the port range or on a port in use.
			bus, err := FreePort()
			if err != nil {
				return nil, err
			}
			args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", clusterNodeTimeout, "--cluster-port", strconv.Itoa(bus),
				// Replicas sync at once, not after the default 5 s wait for more.
				"--repl-diskless-sync-delay", "0"}
			if t != nil {
				if tp, err = FreePort(); err != nil {
					return nil, err
				}
				args = append(append(args, t.ServerArgs(tp, false)...), "--tls-cluster", "yes", "--tls-replication", "yes")
			}
			return args, nil
		}
		s, err := startWith(tb.TempDir(), args)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
		if t != nil {
			c.TLSPorts = append(c.TLSPorts, tp)
		}
	}
	args := []string{"--cluster", "create"}
	for i, s := range c.Nodes {
		if t != nil {
			args = append(args, "127.0.0.1:"+strconv.Itoa(c.TLSPorts[i]))
		} else {
			args = append(args, s.Addr())
		}
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if t != nil {
		args = append([]string{"--tls", "--cacert", t.CA, "--cert", t.ClientCert, "--key", t.ClientKey}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(tb)
	return c
}

// TLSURL is URL's rediss:// form, on the nodes' TLS ports (StartClusterTLS).
func (c *Cluster) TLSURL() string {
	a := func(i int) string { return "127.0.0.1:" + strconv.Itoa(c.TLSPorts[i]) }
	return "rediss://" + a(0) + "/0?addr=" + a(1) + "&addr=" + a(2)
}

// Addrs are the addresses of every node, stopped ones included.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL is go-redis's cluster URL form: the first node, then the next two as
// ?addr= seeds.
func (c *Cluster) URL() string {
	return "redis://" + c.Nodes[0].Addr() + "/0?addr=" + c.Nodes[1].Addr() + "&addr=" + c.Nodes[2].Addr()
}

// Client returns a cluster client seeded with every node, closed when the
// test ends. It reads the topology again every second, as a producer with
// periodic topology refresh does: go-redis otherwise learns of a promoted
// replica only from a MOVED reply or after a minute, and keeps dialling a
// killed master until then.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true,
		ClusterStateReloadInterval: time.Second, MaintNotificationsConfig: Quiet()})
	tb.Cleanup(func() { cc.Close() })
	return cc
}

// node returns the server at addr, or nil.
func (c *Cluster) node(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// running reports whether s has not been killed.
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// ask runs fn against a node that is running.
func (c *Cluster) ask(fn func(ctx context.Context, rc *redis.Client) error) error {
	var err error
	for _, s := range c.Nodes {
		if !s.running() {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = fn(ctx, rc)
		cancel()
		rc.Close()
		if err == nil {
			return nil
		}
	}
	if err == nil {
		err = fmt.Errorf("no cluster node is running")
	}
	return err
}

// Masters returns the masters that serve slots, as one running node sees it.
func (c *Cluster) Masters(tb testing.TB) []*Server {
	tb.Helper()
	out, err := c.masters()
	if err != nil {
		tb.Fatalf("cluster masters: %v", err)
	}
	return out
}

func (c *Cluster) masters() ([]*Server, error) {
	var out []*Server
	err := c.ask(func(ctx context.Context, rc *redis.Client) error {
		slots, err := rc.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		out = out[:0]
		for _, r := range slots {
			if s := c.node(r.Nodes[0].Addr); s != nil && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return nil
	})
	return out, err
}

// MasterOf returns the master that serves key's slot.
func (c *Cluster) MasterOf(tb testing.TB, key string) *Server {
	tb.Helper()
	var out *Server
	err := c.ask(func(ctx context.Context, rc *redis.Client) error {
		slot, err := rc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return err
		}
		slots, err := rc.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) {
				out = c.node(r.Nodes[0].Addr)
				return nil
			}
		}
		return fmt.Errorf("slot %d of %q is not served", slot, key)
	})
	if err != nil || out == nil {
		tb.Fatalf("master of %q: %v", key, err)
	}
	return out
}

// ReplicaOf returns a running replica of master.
func (c *Cluster) ReplicaOf(tb testing.TB, master *Server) *Server {
	tb.Helper()
	var out *Server
	err := c.ask(func(ctx context.Context, rc *redis.Client) error {
		// CLUSTER SLOTS leaves out replicas that have not replicated a
		// byte yet; CLUSTER SHARDS lists them.
		shards, err := rc.ClusterShards(ctx).Result()
		if err != nil {
			return err
		}
		for _, sh := range shards {
			if !slices.ContainsFunc(sh.Nodes, func(n redis.Node) bool { return n.Role == "master" && shardAddr(n) == master.Addr() }) {
				continue
			}
			for _, n := range sh.Nodes {
				if s := c.node(shardAddr(n)); n.Role == "replica" && s != nil && s.running() {
					out = s
					return nil
				}
			}
		}
		return fmt.Errorf("no running replica of %s", master.Addr())
	})
	if err != nil {
		tb.Fatalf("replica of %s: %v", master.Addr(), err)
	}
	return out
}

func shardAddr(n redis.Node) string {
	return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
}

// Failover promotes replica with CLUSTER FAILOVER (its master agrees and
// steps down) and waits until the whole cluster sees it as a master.
func (c *Cluster) Failover(tb testing.TB, replica *Server) {
	tb.Helper()
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := rc.ClusterFailover(ctx).Err()
	cancel()
	if err != nil {
		tb.Fatalf("CLUSTER FAILOVER on %s: %v", replica.Addr(), err)
	}
	waitFor(tb, "replica "+replica.Addr()+" promoted", func() error {
		masters, err := c.masters()
		if err != nil {
			return err
		}
		if !slices.Contains(masters, replica) {
			return fmt.Errorf("%s is not a master yet", replica.Addr())
		}
		return c.healthy()
	})
}

// Kill stops node at once, as a crash would; a killed master's replica is
// promoted by the cluster after about two node timeouts (WaitHealthy).
func (c *Cluster) Kill(node *Server) { node.Stop() }

// WaitHealthy waits until every running node reports cluster_state:ok and
// sees only running nodes as masters.
func (c *Cluster) WaitHealthy(tb testing.TB) {
	tb.Helper()
	waitFor(tb, "cluster healthy", c.healthy)
}

func (c *Cluster) healthy() error {
	for _, s := range c.Nodes {
		if !s.running() {
			continue
		}
		if err := c.nodeHealthy(s); err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
	}
	return nil
}

func (c *Cluster) nodeHealthy(s *Server) error {
	rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return fmt.Errorf("cluster_state is not ok")
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	for _, r := range slots {
		if m := c.node(r.Nodes[0].Addr); m == nil || !m.running() {
			return fmt.Errorf("slots %d-%d are on stopped %s", r.Start, r.End, r.Nodes[0].Addr)
		}
	}
	// Every master of these clusters serves slots: a live master without
	// any is a replica this node has not yet learnt the role of.
	shards, err := rc.ClusterShards(ctx).Result()
	if err != nil {
		return err
	}
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Role == "master" && !strings.HasPrefix(n.Health, "fail") && len(sh.Slots) == 0 {
				return fmt.Errorf("sees %s as a master without slots", shardAddr(n))
			}
		}
	}
	return replicating(ctx, rc)
}

// replicating fails for a replica whose link to its master is not up, so
// that a master killed after WaitHealthy can be failed over.
func replicating(ctx context.Context, rc *redis.Client) error {
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
		return fmt.Errorf("replica link not up")
	}
	return nil
}

// waitFor polls cond until it returns nil, failing tb after clusterWait
// with its last error: forming a cluster or a sentinel deployment, and
// each failover.
func waitFor(tb testing.TB, what string, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v: %v", what, clusterWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Slot returns the hash slot of key.
func (c *Cluster) Slot(tb testing.TB, key string) int {
	tb.Helper()
	var slot int64
	err := c.ask(func(ctx context.Context, rc *redis.Client) (err error) {
		slot, err = rc.ClusterKeySlot(ctx, key).Result()
		return err
	})
	if err != nil {
		tb.Fatalf("slot of %q: %v", key, err)
	}
	return int(slot)
}

// Migration is one slot moving from one master to another, in the steps
// redis-cli --cluster reshard takes, so that a test can act between them:
// while it lasts, a key of the slot is on the source until it is moved,
// and on the target after.
type Migration struct {
	slot         int
	from, to     *Server
	fromID, toID string
	c            *Cluster
}

// BeginMigration marks slot importing on to and migrating on from.
func (c *Cluster) BeginMigration(tb testing.TB, slot int, from, to *Server) *Migration {
	tb.Helper()
	m := &Migration{slot: slot, from: from, to: to, c: c}
	m.fromID, m.toID = nodeID(tb, from), nodeID(tb, to)
	m.do(tb, to, "CLUSTER", "SETSLOT", slot, "IMPORTING", m.fromID)
	m.do(tb, from, "CLUSTER", "SETSLOT", slot, "MIGRATING", m.toID)
	return m
}

// MoveKeys moves keys, of the migrating slot, to the target (MIGRATE).
func (m *Migration) MoveKeys(tb testing.TB, keys ...string) {
	tb.Helper()
	host, port, _ := net.SplitHostPort(m.to.Addr())
	args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	m.do(tb, m.from, args...)
}

// Finish moves the slot's remaining keys to the target, gives it the slot
// on every master, and waits until every running node sees it there.
func (m *Migration) Finish(tb testing.TB) {
	tb.Helper()
	rc := redis.NewClient(&redis.Options{Addr: m.from.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	keys, err := rc.ClusterGetKeysInSlot(ctx, m.slot, 1000).Result()
	cancel()
	if err != nil {
		tb.Fatalf("CLUSTER GETKEYSINSLOT %d: %v", m.slot, err)
	}
	if len(keys) > 0 {
		m.MoveKeys(tb, keys...)
	}
	m.do(tb, m.to, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
	m.do(tb, m.from, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
	for _, s := range m.c.Masters(tb) {
		if s != m.to && s != m.from {
			m.do(tb, s, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
		}
	}
	waitFor(tb, fmt.Sprintf("slot %d on %s", m.slot, m.to.Addr()), func() error {
		for _, s := range m.c.Nodes {
			if !s.running() {
				continue
			}
			if err := servedBy(s, m.slot, m.to); err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
		}
		return nil
	})
}

func (m *Migration) do(tb testing.TB, s *Server, args ...any) {
	tb.Helper()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Do(ctx, args...).Err(); err != nil {
		tb.Fatalf("%v on %s: %v", args, s.Addr(), err)
	}
}

// nodeID is s's cluster node id.
func nodeID(tb testing.TB, s *Server) string {
	tb.Helper()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	id, err := rc.ClusterMyID(ctx).Result()
	if err != nil {
		tb.Fatalf("CLUSTER MYID on %s: %v", s.Addr(), err)
	}
	return id
}

// servedBy fails unless node s sees slot served by master.
func servedBy(s *Server, slot int, master *Server) error {
	rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	for _, r := range slots {
		if r.Start <= slot && slot <= r.End {
			if r.Nodes[0].Addr == master.Addr() {
				return nil
			}
			return fmt.Errorf("slot %d served by %s", slot, r.Nodes[0].Addr)
		}
	}
	return fmt.Errorf("slot %d not served", slot)
}
