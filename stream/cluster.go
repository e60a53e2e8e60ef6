package stream

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// topologyEvery is how often the hub asks a cluster who its masters are: a
// failover, a master added or removed, or slots moved are seen within this
// time, and sooner when a master's subscription fails.
const topologyEvery = time.Second

// nodeTimeout bounds one question to one cluster node.
const nodeTimeout = time.Second

// cluster keeps one keyspace subscription per master of a Redis Cluster,
// where each master publishes the events of its own keys only, and follows
// the cluster's topology. The goroutine of listenCluster owns it: only that
// goroutine starts and stops subscriptions and opens and closes node
// clients. Each subscription runs in a goroutine of its own and reports
// through confirmed and lost.
type cluster[T any] struct {
	h    *Hub[T]
	cc   *redis.ClusterClient
	opts *redis.ClusterOptions

	nodes      *goNodes                 // go-redis's own node clients, as it routes to them
	clients    map[string]*redis.Client // ours, by node address as go-redis routes to it
	configured map[string]bool          // nodes given NotifyFlags, by address
	known      []string                 // every node of the last topology, masters first
	asked      string                   // the node that answered last: asked first, for a stable view
	shape      string                   // the masters and their slots, to tell a change
	noShards   bool                     // no CLUSTER SHARDS (Redis < 7): CLUSTER SLOTS instead
	failing    bool                     // the last topology question went unanswered
	wg         sync.WaitGroup           // the subscription goroutines

	check chan struct{} // capacity one: a subscription failed, look at the topology now

	mu   sync.Mutex
	subs map[string]*nodeSub // the current masters' subscriptions, by address
}

// nodeSub is the subscription to one master.
type nodeSub struct {
	addr   string
	cancel context.CancelFunc
	live   bool // confirmed and not failed since; guarded by cluster.mu
	down   bool // failed and not confirmed since; guarded by cluster.mu
}

// topology is what the cluster answered about itself.
type topology struct {
	masters []string // the nodes whose events the hub needs, sorted
	nodes   []string // every node not known to have failed, masters first
	shape   string   // masters and their slots
}

// listenCluster keeps a keyspace subscription on every master of the
// cluster until ctx ends, following failovers, masters added or removed and
// slots moved. The hub is live only while every current master's
// subscription is confirmed; each confirmation and each topology change
// re-reads every watched job.
func (h *Hub[T]) listenCluster(ctx context.Context, cc *redis.ClusterClient) {
	c := &cluster[T]{
		h:          h,
		cc:         cc,
		opts:       cc.Options(),
		nodes:      learnNodes(ctx, cc),
		clients:    make(map[string]*redis.Client),
		configured: make(map[string]bool),
		subs:       make(map[string]*nodeSub),
		check:      make(chan struct{}, 1),
	}
	defer c.stop()
	t := time.NewTicker(topologyEvery)
	defer t.Stop()
	for {
		c.follow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.check:
		}
	}
}

// follow asks the cluster for its topology and, when the masters or their
// slots changed, subscribes to new masters, drops old ones and re-reads
// every watched job.
func (c *cluster[T]) follow(ctx context.Context) {
	top, err := c.topology(ctx)
	if err != nil {
		if ctx.Err() == nil && !c.failing {
			c.h.log.Warn("cluster topology unknown: no node answers", "err", err)
		}
		c.failing = true
		return
	}
	c.failing = false
	c.known = top.nodes
	c.configure(ctx, top.nodes)
	c.forget()
	if top.shape == c.shape {
		return
	}
	first := c.shape == ""
	c.shape = top.shape
	c.resubscribe(ctx, top.masters)
	if first {
		c.h.log.Info("following the cluster", "masters", top.masters)
		return
	}
	// go-redis learns of moved slots from MOVED replies; telling it now
	// saves the reads a round of redirects.
	c.cc.ReloadState(ctx)
	c.h.stats.resyncs.Add(1)
	c.h.resync(time.Now())
	c.h.log.Info("cluster topology changed; watched jobs re-read", "masters", top.masters)
}

// resubscribe makes the subscriptions those of masters.
func (c *cluster[T]) resubscribe(ctx context.Context, masters []string) {
	type start struct {
		ctx context.Context
		sub *nodeSub
		rc  *redis.Client
	}
	var starts []start
	c.mu.Lock()
	for addr, s := range c.subs {
		if !slices.Contains(masters, addr) {
			s.cancel()
			delete(c.subs, addr)
		}
	}
	for _, addr := range masters {
		if c.subs[addr] != nil {
			continue
		}
		// It cannot fail: the topology was just asked through a client,
		// so go-redis's node options are known.
		rc, err := c.client(addr)
		if err != nil {
			c.h.log.Error("no client for a cluster master", "node", addr, "err", err)
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &nodeSub{addr: addr, cancel: cancel}
		c.subs[addr] = s
		starts = append(starts, start{sctx, s, rc})
	}
	c.tellLocked(news{what: regrouped})
	c.mu.Unlock()
	for _, st := range starts {
		c.wg.Go(func() { c.subscribe(st.ctx, st.sub, st.rc) })
	}
}

// subscribe holds the subscription on one master until ctx ends (the hub
// stops, or the node is no longer a master). A cluster has database 0 only.
func (c *cluster[T]) subscribe(ctx context.Context, s *nodeSub, rc *redis.Client) {
	c.h.keepSubscribed(ctx, rc, 0, nodeTimeout, func() { c.confirmed(s) }, func(err error) { c.lost(s, err) })
}

// confirmed: a master's subscription is (again) confirmed; the hub is live
// if every master's is, and every watched job is re-read, since changes made
// on that master while it was not subscribed were not published to us.
func (c *cluster[T]) confirmed(s *nodeSub) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.live, s.down = true, false
	if c.subs[s.addr] != s {
		c.tellLocked(news{what: regrouped})
		return
	}
	c.tellLocked(news{what: confirmed, node: s.addr})
}

// lost: a master's subscription failed. The hub is not live until it is
// back or the node is no longer a master; the topology is looked at now,
// since a failed master may have been replaced.
func (c *cluster[T]) lost(s *nodeSub, err error) {
	c.mu.Lock()
	current := c.subs[s.addr] == s
	was, first := s.live, !s.down
	s.live, s.down = false, true
	// Logged once per outage, a master never reached included.
	c.tellLocked(news{what: lost, node: s.addr, was: current && was, first: current && first, err: err})
	c.mu.Unlock()
	signal(c.check)
}

// tellLocked tells the hub n, which is live when every current master's
// subscription is confirmed.
func (c *cluster[T]) tellLocked(n news) {
	n.on = len(c.subs) > 0
	for _, s := range c.subs {
		n.on = n.on && s.live
	}
	c.h.listened(n)
}

// stop ends every subscription and waits for them.
func (c *cluster[T]) stop() {
	c.mu.Lock()
	for addr, s := range c.subs {
		s.cancel()
		delete(c.subs, addr)
	}
	c.mu.Unlock()
	c.wg.Wait()
	for addr, rc := range c.clients {
		rc.Close()
		delete(c.clients, addr)
	}
	c.h.listened(news{what: stopped})
}

// configure adds NotifyFlags on nodes seen for the first time, replicas
// included, so that a replica publishes from the moment it is promoted;
// nothing under TrustFlags. Best effort: a master is configured again
// before it is subscribed.
func (c *cluster[T]) configure(ctx context.Context, nodes []string) {
	if c.h.cfg.TrustFlags {
		return
	}
	for _, addr := range nodes {
		if c.configured[addr] {
			continue
		}
		rc, err := c.client(addr)
		if err != nil {
			continue
		}
		c.configured[addr] = true
		if err := ensureNotify(ctx, rc, nodeTimeout); err != nil && ctx.Err() == nil {
			c.h.log.Debug("notify-keyspace-events not set", "node", addr, "err", err)
		}
	}
}

// forget closes the clients of nodes that left the cluster.
func (c *cluster[T]) forget() {
	keep := make(map[string]bool, len(c.known)+len(c.opts.Addrs))
	for _, a := range c.known {
		keep[a] = true
	}
	for _, a := range c.opts.Addrs {
		keep[a] = true
	}
	c.mu.Lock()
	for a := range c.subs {
		keep[a] = true
	}
	c.mu.Unlock()
	for addr, rc := range c.clients {
		if !keep[addr] {
			rc.Close()
			delete(c.clients, addr)
			delete(c.configured, addr)
		}
	}
	for addr := range c.configured {
		if !keep[addr] {
			delete(c.configured, addr)
		}
	}
}

// client returns our client of one node. Its options are those go-redis
// gives its own node clients (credentials, TLS, timeouts, dialer, pool
// settings: everything the cluster was configured with), save for the pool,
// which is small, and retries: a node that does not answer is not asked
// again, the next one is. It is ours, not go-redis's, so that go-redis
// dropping a node it no longer routes to never closes it under a
// subscription.
func (c *cluster[T]) client(addr string) (*redis.Client, error) {
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
func (c *cluster[T]) topology(ctx context.Context) (topology, error) {
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
		first = fmt.Errorf("no cluster node known")
	}
	return topology{}, first
}

// ask asks one node for the topology: CLUSTER SHARDS, which lists masters
// without slots too (one may be receiving a slot's keys), or CLUSTER SLOTS
// where there is no CLUSTER SHARDS.
func (c *cluster[T]) ask(ctx context.Context, addr string) (topology, error) {
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
		if !isRefused(err) {
			return topology{}, err
		}
		slots, serr := rc.ClusterSlots(ctx).Result()
		if serr != nil {
			return topology{}, serr
		}
		c.noShards = true
		c.h.log.Info("no CLUSTER SHARDS: following the cluster with CLUSTER SLOTS", "err", err)
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
func (c *cluster[T]) fromShards(shards []redis.ClusterShard, route func(string) string) topology {
	shape := map[string]string{}
	var replicas []string
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
		}
	}
	return newTopology(shape, replicas)
}

// shardNodeAddr is the address a CLUSTER SHARDS node announces, as CLUSTER
// SLOTS would name it.
func (c *cluster[T]) shardNodeAddr(n redis.Node) string {
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
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			continue
		}
		m := route(r.Nodes[0].Addr)
		if shape[m] != "" {
			shape[m] += ","
		}
		shape[m] += strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
		for _, n := range r.Nodes[1:] {
			replicas = append(replicas, route(n.Addr))
		}
	}
	return newTopology(shape, replicas)
}

// newTopology builds a topology from each master's slot ranges.
func newTopology(shape map[string]string, replicas []string) topology {
	var t topology
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
