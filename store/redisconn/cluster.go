package redisconn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/stream"
)

// nodeTimeout bounds one question to one cluster node.
const nodeTimeout = time.Second

// cluster follows a Redis Cluster for Conn.Publishers: its masters, each of
// which publishes the keyspace events of its own keys only, and their
// replicas. It names nodes as go-redis routes to them (the addresses of
// go-redis's own node clients), and its node clients, its own so that
// go-redis never closes one under the hub's subscription, take the options
// go-redis gives its node clients.
type cluster struct {
	cc    *redis.ClusterClient
	opts  *redis.ClusterOptions
	log   *slog.Logger
	nodes goNodes

	mu       sync.Mutex
	clients  map[string]*redis.Client // ours, by node address as go-redis routes to it
	known    []string                 // every node of the last topology, masters first
	handed   []string                 // the masters handed out last (see forget)
	asked    string                   // the node that answered last: asked first, for a stable view
	shape    string                   // the masters and their slots, to tell a change
	noShards bool                     // no CLUSTER SHARDS (Redis < 7): CLUSTER SLOTS instead
	failing  bool                     // the last topology question went unanswered
}

func newCluster(cc *redis.ClusterClient, log *slog.Logger) *cluster {
	c := &cluster{cc: cc, opts: cc.Options(), log: log, clients: make(map[string]*redis.Client)}
	c.nodes.routed = make(map[string]string)
	cc.OnNewNode(c.nodes.add)
	return c
}

// topology is what the cluster answered about itself.
type topology struct {
	masters []string    // the nodes whose events the hub needs, sorted
	nodes   []string    // every node not known to have failed, masters first
	shape   string      // masters and their slots
	slots   []slotRange // who holds which slots, by start
}

// slotRange is a range of slots and the master that holds it.
type slotRange struct {
	start, end int
	master     string
}

// owner returns the master of key's slot: the node that publishes its
// events; "" when no master holds it.
func (t topology) owner(key string) string {
	slot := keySlot(key)
	i := sort.Search(len(t.slots), func(i int) bool { return t.slots[i].end >= slot })
	if i < len(t.slots) && t.slots[i].start <= slot {
		return t.slots[i].master
	}
	return ""
}

// publishers asks the cluster for its masters and replicas: CLUSTER
// SHARDS (or CLUSTER SLOTS before Redis 7) of the node that answered last,
// then of every other known node, then of the seeds. A topology that
// differs from the last is told to go-redis too.
func (c *cluster) publishers(ctx context.Context) (stream.Publishers, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes.learn(ctx, c.cc)
	top, err := c.topology(ctx)
	if err != nil {
		if ctx.Err() == nil && !c.failing {
			c.log.Warn("cluster topology unknown: no node answers", "err", err)
		}
		c.failing = true
		return stream.Publishers{}, err
	}
	c.failing = false
	c.known = top.nodes
	c.forget()
	c.handed = top.masters
	switch {
	case c.shape == "":
		c.log.Info("following the cluster", "masters", top.masters)
	case top.shape != c.shape:
		// go-redis learns of moved slots from MOVED replies; telling it
		// now saves the reads a round of redirects.
		c.cc.ReloadState(ctx)
	}
	c.shape = top.shape
	p := stream.Publishers{Shape: top.shape, Owner: top.owner}
	for i, addr := range top.nodes {
		rc, err := c.client(addr)
		if err != nil {
			return stream.Publishers{}, err
		}
		n := Node(addr, rc)
		if i < len(top.masters) {
			p.Masters = append(p.Masters, n)
		} else {
			p.Standby = append(p.Standby, n)
		}
	}
	return p, nil
}

// forget closes the clients of nodes that left the cluster. Those of the
// masters handed out last are kept one answer longer: the hub drops its
// subscription on a master that left before it asks again.
func (c *cluster) forget() {
	keep := make(map[string]bool)
	for _, a := range slices.Concat(c.known, c.opts.Addrs, c.handed) {
		keep[a] = true
	}
	for addr, rc := range c.clients {
		if !keep[addr] {
			rc.Close()
			delete(c.clients, addr)
		}
	}
}

// close closes every node client.
func (c *cluster) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, rc := range c.clients {
		rc.Close()
		delete(c.clients, addr)
	}
	return nil
}

// client returns our client of one node. Its options are those go-redis
// gives its own node clients (credentials, TLS, timeouts, dialer, pool
// settings: everything the cluster was configured with), save for the pool,
// which is small, and retries: a node that does not answer is not asked
// again, the next one is. It is ours, not go-redis's, so that go-redis
// dropping a node it no longer routes to never closes it under a
// subscription.
func (c *cluster) client(addr string) (*redis.Client, error) {
	if rc := c.clients[addr]; rc != nil {
		return rc, nil
	}
	o, err := c.nodes.options(c.opts)
	if err != nil {
		return nil, err
	}
	o.Addr, o.NodeAddress = addr, ""
	o.MaxRetries = -1
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 2, 0, 0
	rc := c.opts.NewClient(o)
	c.clients[addr] = rc
	return rc, nil
}

// topology asks the node that answered last, then every other known node,
// then the seed nodes, until one answers.
func (c *cluster) topology(ctx context.Context) (topology, error) {
	var candidates []string
	for _, a := range slices.Concat([]string{c.asked}, c.known, c.opts.Addrs) {
		if a != "" && !slices.Contains(candidates, a) {
			candidates = append(candidates, a)
		}
	}
	var first error
	for _, addr := range candidates {
		qctx, cancel := context.WithTimeout(ctx, nodeTimeout)
		top, err := c.ask(qctx, addr)
		cancel()
		if err == nil {
			c.asked = addr
			return top, nil
		}
		if first == nil {
			first = fmt.Errorf("%s: %w", addr, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = errors.New("no cluster node known")
	}
	return topology{}, first
}

// ask asks one node for the topology: CLUSTER SHARDS, which lists masters
// without slots too (one may be receiving a slot's keys), or CLUSTER SLOTS
// where there is no CLUSTER SHARDS.
func (c *cluster) ask(ctx context.Context, addr string) (topology, error) {
	rc, err := c.client(addr)
	if err != nil {
		return topology{}, err
	}
	route := c.nodes.route
	if !c.noShards {
		shards, err := rc.ClusterShards(ctx).Result()
		if err == nil {
			return c.fromShards(shards, route), nil
		}
		if !isRedisError(err) {
			return topology{}, err
		}
		slots, serr := rc.ClusterSlots(ctx).Result()
		if serr != nil {
			return topology{}, serr
		}
		c.noShards = true
		c.log.Info("no CLUSTER SHARDS: following the cluster with CLUSTER SLOTS", "err", err)
		return fromSlots(slots, route), nil
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		return topology{}, err
	}
	return fromSlots(slots, route), nil
}

// fromShards reads CLUSTER SHARDS. The masters are those of each shard that
// have not failed; a shard whose every master failed and that still owns
// slots keeps them, so that the hub is not live while those slots have no
// master that publishes.
func (c *cluster) fromShards(shards []redis.ClusterShard, route func(string) string) topology {
	shape := map[string]string{}
	var replicas []string
	var owned []slotRange
	for _, sh := range shards {
		var up, down []string
		for _, n := range sh.Nodes {
			addr := route(c.shardNodeAddr(n))
			failed := strings.HasPrefix(n.Health, "fail")
			switch {
			case n.Role == "master" && failed:
				down = append(down, addr)
			case n.Role == "master":
				up = append(up, addr)
			case !failed:
				replicas = append(replicas, addr)
			}
		}
		if len(up) == 0 && len(sh.Slots) > 0 {
			up = down
		}
		ranges := make([]string, len(sh.Slots))
		for i, r := range sh.Slots {
			ranges[i] = strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.End, 10)
		}
		for _, a := range up {
			shape[a] = strings.Join(ranges, ",")
			for _, r := range sh.Slots {
				owned = append(owned, slotRange{int(r.Start), int(r.End), a})
			}
		}
	}
	return newTopology(shape, replicas, owned)
}

// shardNodeAddr is the address a CLUSTER SHARDS node announces, as CLUSTER
// SLOTS would name it.
func (c *cluster) shardNodeAddr(n redis.Node) string {
	host := n.Endpoint
	if host == "" || host == "?" {
		host = n.IP
	}
	port := n.Port
	if port == 0 || (c.opts.TLSConfig != nil && n.TLSPort != 0) {
		port = n.TLSPort
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// fromSlots reads CLUSTER SLOTS: the first node of each range is its master.
func fromSlots(slots []redis.ClusterSlot, route func(string) string) topology {
	slices.SortFunc(slots, func(a, b redis.ClusterSlot) int { return cmp.Compare(a.Start, b.Start) })
	shape := map[string]string{}
	var replicas []string
	var owned []slotRange
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			continue
		}
		m := route(r.Nodes[0].Addr)
		owned = append(owned, slotRange{r.Start, r.End, m})
		if shape[m] != "" {
			shape[m] += ","
		}
		shape[m] += strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
		for _, n := range r.Nodes[1:] {
			replicas = append(replicas, route(n.Addr))
		}
	}
	return newTopology(shape, replicas, owned)
}

// newTopology builds a topology from each master's slot ranges, as text
// (shape) and as ranges (owned).
func newTopology(shape map[string]string, replicas []string, owned []slotRange) topology {
	t := topology{slots: owned}
	slices.SortFunc(t.slots, func(a, b slotRange) int { return cmp.Compare(a.start, b.start) })
	var lines []string
	for m, ranges := range shape {
		t.masters = append(t.masters, m)
		lines = append(lines, m+" "+ranges)
	}
	slices.Sort(t.masters)
	slices.Sort(lines)
	slices.Sort(replicas)
	t.nodes = slices.Compact(slices.Concat(t.masters, replicas))
	t.shape = strings.Join(lines, ";")
	return t
}
