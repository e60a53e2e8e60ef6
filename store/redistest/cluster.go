package redistest

import (
	"cmp"
	"context"
	"errors"
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

// clusterNodeTimeout is each node's cluster-node-timeout: a killed master is
// failed over within about two of these.
const clusterNodeTimeout = "1000"

// clusterWait bounds forming a cluster or a sentinel deployment, and each
// failover.
const clusterWait = 20 * time.Second

// Cluster is a private Redis Cluster of three masters and three replicas on
// loopback ports, for tests that change its topology; stopped when they end.
type Cluster struct {
	Nodes []*Server // in the order given to redis-cli --cluster create
}

// StartCluster starts six redis-servers, joins them into three masters with
// one replica each and waits until the cluster is healthy (WaitHealthy).
func StartCluster(tb testing.TB) *Cluster { return startCluster(tb, nil) }

// StartClusterTLS is StartCluster with TLS on a second port of each node (the
// cluster bus and replication too); TLSURL is its rediss:// URL. Redis tells
// each client the ports of its own kind; tests' own clients use the plain ones.
func StartClusterTLS(tb testing.TB, t *TLS) *Cluster { return startCluster(tb, t) }

func startCluster(tb testing.TB, t *TLS) *Cluster {
	tb.Helper()
	SkipIfShort(tb)
	if err := lookPath("redis-cli"); err != nil {
		tb.Fatal(err)
	}
	n := node{tls: t, args: func() ([]string, error) {
		// The bus port is set explicitly: the default (port + 10000)
		// may fall outside the port range or on a port in use.
		bus, err := FreePort()
		args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", clusterNodeTimeout, "--cluster-port", strconv.Itoa(bus),
			// Replicas sync at once, not after the default 5 s wait for more.
			"--repl-diskless-sync-delay", "0"}
		if t != nil {
			args = append(args, "--tls-cluster", "yes", "--tls-replication", "yes")
		}
		return args, err
	}}
	args := []string{"--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}
	if t != nil {
		args = append(args, "--tls", "--cacert", t.CA, "--cert", t.ClientCert, "--key", t.ClientKey)
	}
	c := &Cluster{}
	for range 6 {
		s := n.startFor(tb)
		c.Nodes = append(c.Nodes, s)
		args = append(args, loopback(s.peerPort()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(tb)
	return c
}

// URL is go-redis's cluster URL form: the first node, then the next two as
// ?addr= seeds.
func (c *Cluster) URL() string { return c.url("redis://", (*Server).Addr) }

// TLSURL is URL's rediss:// form, on the nodes' TLS ports (StartClusterTLS).
func (c *Cluster) TLSURL() string { return c.url("rediss://", (*Server).tlsAddr) }

func (c *Cluster) url(scheme string, addr func(*Server) string) string {
	return scheme + addr(c.Nodes[0]) + "/0?addr=" + addr(c.Nodes[1]) + "&addr=" + addr(c.Nodes[2])
}

// Client returns a cluster client seeded with every node, closed when the
// test ends. It reloads the topology every second, as a producer should:
// go-redis otherwise learns of a promoted replica only from a MOVED reply or
// after a minute, and keeps dialling a killed master until then.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.addrs(), DisableIdentity: true,
		ClusterStateReloadInterval: time.Second, MaintNotificationsConfig: Quiet()})
	tb.Cleanup(func() { cc.Close() })
	return cc
}

func (c *Cluster) addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// byAddr returns the node at addr, or nil.
func (c *Cluster) byAddr(addr string) *Server {
	if i := slices.Index(c.addrs(), addr); i >= 0 {
		return c.Nodes[i]
	}
	return nil
}

// ask returns fn's answer from the first running node that gives one.
func ask[T any](c *Cluster, fn func(context.Context, *redis.Client) (T, error)) (T, error) {
	var out T
	err := errors.New("no cluster node is running")
	for _, s := range c.Nodes {
		if s.running() == nil {
			continue
		}
		err = s.query(2*time.Second, func(ctx context.Context, rc *redis.Client) (err error) {
			out, err = fn(ctx, rc)
			return err
		})
		if err == nil {
			break
		}
	}
	return out, err
}

// everyNode fails unless fn passes on a client of every running node.
func (c *Cluster) everyNode(fn func(context.Context, *redis.Client) error) error {
	for _, s := range c.Nodes {
		if s.running() == nil {
			continue
		}
		if err := s.query(2*time.Second, fn); err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
	}
	return nil
}

// Masters returns the masters that serve slots, as one running node sees it.
func (c *Cluster) Masters(tb testing.TB) []*Server {
	tb.Helper()
	out, err := ask(c, c.mastersSeen)
	if err != nil {
		tb.Fatalf("cluster masters: %v", err)
	}
	return out
}

// mastersSeen returns the masters that serve slots, as rc's node sees it.
func (c *Cluster) mastersSeen(ctx context.Context, rc *redis.Client) ([]*Server, error) {
	slots, err := rc.ClusterSlots(ctx).Result()
	var out []*Server
	for _, r := range slots {
		if s := c.byAddr(r.Nodes[0].Addr); s != nil && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, err
}

// Slot returns the hash slot of key.
func (c *Cluster) Slot(tb testing.TB, key string) int {
	tb.Helper()
	slot, err := ask(c, func(ctx context.Context, rc *redis.Client) (int64, error) {
		return rc.ClusterKeySlot(ctx, key).Result()
	})
	if err != nil {
		tb.Fatalf("slot of %q: %v", key, err)
	}
	return int(slot)
}

// slotOwner reads the address of the master that a node sees serving slot.
func slotOwner(slot int) func(context.Context, *redis.Client) (string, error) {
	return func(ctx context.Context, rc *redis.Client) (string, error) {
		slots, err := rc.ClusterSlots(ctx).Result()
		for _, r := range slots {
			if r.Start <= slot && slot <= r.End {
				return r.Nodes[0].Addr, nil
			}
		}
		return "", cmp.Or(err, fmt.Errorf("slot %d is not served", slot))
	}
}

// MasterOf returns the master that serves key's slot.
func (c *Cluster) MasterOf(tb testing.TB, key string) *Server {
	tb.Helper()
	addr, err := ask(c, slotOwner(c.Slot(tb, key)))
	if s := c.byAddr(addr); err == nil && s != nil {
		return s
	}
	tb.Fatalf("master of %q: %v", key, err)
	return nil
}

// ReplicaOf returns a running replica of master.
func (c *Cluster) ReplicaOf(tb testing.TB, master *Server) *Server {
	tb.Helper()
	out, err := ask(c, func(ctx context.Context, rc *redis.Client) (*Server, error) {
		// CLUSTER SLOTS leaves out replicas that have not replicated a
		// byte yet; CLUSTER SHARDS lists them.
		shards, err := rc.ClusterShards(ctx).Result()
		for _, sh := range shards {
			if !slices.ContainsFunc(sh.Nodes, func(n redis.Node) bool { return n.Role == "master" && shardAddr(n) == master.Addr() }) {
				continue
			}
			for _, n := range sh.Nodes {
				if s := c.byAddr(shardAddr(n)); n.Role == "replica" && s != nil && s.running() != nil {
					return s, nil
				}
			}
		}
		return nil, cmp.Or(err, fmt.Errorf("no running replica of %s", master.Addr()))
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
	replica.do(tb, "CLUSTER", "FAILOVER")
	waitFor(tb, "replica "+replica.Addr()+" promoted", func() error {
		masters, err := ask(c, c.mastersSeen)
		if err != nil {
			return err
		}
		if !slices.Contains(masters, replica) {
			return fmt.Errorf("%s is not a master yet", replica.Addr())
		}
		return c.everyNode(c.nodeHealthy)
	})
}

// Kill stops node at once, as a crash would; a killed master's replica is
// promoted by the cluster after about two node timeouts (WaitHealthy).
func (c *Cluster) Kill(node *Server) { node.Stop() }

// WaitHealthy waits until every running node reports cluster_state:ok and
// sees only running nodes as masters.
func (c *Cluster) WaitHealthy(tb testing.TB) {
	tb.Helper()
	waitFor(tb, "cluster healthy", func() error { return c.everyNode(c.nodeHealthy) })
}

func (c *Cluster) nodeHealthy(ctx context.Context, rc *redis.Client) error {
	info, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	for _, r := range slots {
		if m := c.byAddr(r.Nodes[0].Addr); m == nil || m.running() == nil {
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
	// A replica whose link to its master is not up could not be failed
	// over to if its master were killed after WaitHealthy.
	repl, err := rc.Info(ctx, "replication").Result()
	if err == nil && strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
		err = errors.New("replica link not up")
	}
	return err
}

// Migration is one slot moving from one master to another, in the steps
// redis-cli --cluster reshard takes, so that a test can act between them:
// while it lasts, a key of the slot is on the source until it is moved,
// and on the target after.
type Migration struct {
	c        *Cluster
	slot     int
	from, to *Server
	toID     any
}

// BeginMigration marks slot importing on to and migrating on from.
func (c *Cluster) BeginMigration(tb testing.TB, slot int, from, to *Server) *Migration {
	tb.Helper()
	m := &Migration{c: c, slot: slot, from: from, to: to, toID: to.do(tb, "CLUSTER", "MYID")}
	to.do(tb, "CLUSTER", "SETSLOT", slot, "IMPORTING", from.do(tb, "CLUSTER", "MYID"))
	from.do(tb, "CLUSTER", "SETSLOT", slot, "MIGRATING", m.toID)
	return m
}

// MoveKeys moves keys, of the migrating slot, to the target (MIGRATE).
func (m *Migration) MoveKeys(tb testing.TB, keys ...string) {
	tb.Helper()
	ks := make([]any, len(keys))
	for i, k := range keys {
		ks[i] = k
	}
	m.migrate(tb, ks)
}

// migrate moves keys to the target, on its TLS port under tls-cluster.
func (m *Migration) migrate(tb testing.TB, keys []any) {
	tb.Helper()
	m.from.do(tb, append([]any{"MIGRATE", "127.0.0.1", m.to.peerPort(), "", 0, 5000, "KEYS"}, keys...)...)
}

// Finish moves the slot's remaining keys to the target, gives it the slot
// on every master, and waits until every running node sees it there.
func (m *Migration) Finish(tb testing.TB) {
	tb.Helper()
	if keys, _ := m.from.do(tb, "CLUSTER", "GETKEYSINSLOT", m.slot, 1000).([]any); len(keys) > 0 {
		m.migrate(tb, keys)
	}
	m.to.do(tb, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
	m.from.do(tb, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
	for _, s := range m.c.Masters(tb) {
		if s != m.to && s != m.from {
			s.do(tb, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID)
		}
	}
	waitFor(tb, fmt.Sprintf("slot %d on %s", m.slot, m.to.Addr()), func() error {
		return m.c.everyNode(func(ctx context.Context, rc *redis.Client) error {
			addr, err := slotOwner(m.slot)(ctx, rc)
			if err == nil && addr != m.to.Addr() {
				err = fmt.Errorf("slot %d served by %s", m.slot, addr)
			}
			return err
		})
	})
}

// do runs the command args on s and returns its reply, failing tb on an
// error.
func (s *Server) do(tb testing.TB, args ...any) any {
	tb.Helper()
	var reply any
	err := s.query(5*time.Second, func(ctx context.Context, rc *redis.Client) (err error) {
		reply, err = rc.Do(ctx, args...).Result()
		return err
	})
	if err != nil {
		tb.Fatalf("%v on %s: %v", args, s.Addr(), err)
	}
	return reply
}
