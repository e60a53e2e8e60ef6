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

// cluster follows a Redis Cluster's masters (each publishes the events of
// its own keys only) and replicas for Conn.Publishers (see Shape in doc.go).
type cluster struct {
	cc   *redis.ClusterClient
	opts *redis.ClusterOptions
	log  *slog.Logger

	// What go-redis's own node clients tell, to name and reach every node
	// as go-redis does: the address it routes to for each one a node
	// announces (it rewrites a loopback host to the host the cluster was
	// reached on, a TLS port 0 to the port that answered), and the options
	// of one, the template of ours. Guarded by goMu: OnNewNode calls in.
	goMu   sync.Mutex
	routed map[string]string
	goOpts *redis.Options

	mu       sync.Mutex
	learnt   bool                     // go-redis's node clients of the start learnt
	clients  map[string]*redis.Client // ours, by node address as go-redis routes to it
	known    []string                 // every node of the last topology, masters first
	handed   []string                 // the masters handed out last (see forget)
	asked    string                   // the node that answered last: asked first, for a stable view
	shape    string                   // the masters and their slots, to tell a change
	noShards bool                     // no CLUSTER SHARDS (Redis < 7): CLUSTER SLOTS instead
	failing  bool                     // the last topology question went unanswered
}

func newCluster(cc *redis.ClusterClient, log *slog.Logger) *cluster {
	c := &cluster{cc: cc, opts: cc.Options(), log: log, clients: map[string]*redis.Client{}, routed: map[string]string{}}
	cc.OnNewNode(c.add)
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

// owner returns the master of key's slot, which publishes its events; ""
// when no master holds it.
func (t topology) owner(key string) string {
	slot := keySlot(key)
	i := sort.Search(len(t.slots), func(i int) bool { return t.slots[i].end >= slot })
	if i < len(t.slots) && t.slots[i].start <= slot {
		return t.slots[i].master
	}
	return ""
}

// publishers asks the cluster for its masters and replicas (see topology).
// A topology that differs from the last is told to go-redis too.
func (c *cluster) publishers(ctx context.Context) (stream.Publishers, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.learn(ctx)
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
		if i < len(top.masters) {
			p.Masters = append(p.Masters, Node(addr, rc))
		} else {
			p.Standby = append(p.Standby, Node(addr, rc))
		}
	}
	return p, nil
}

// forget closes the clients of nodes that left the cluster, but those of
// the masters handed out last one answer later: the hub drops its
// subscription on a master that left before it asks again.
func (c *cluster) forget() {
	keep := slices.Concat(c.known, c.opts.Addrs, c.handed)
	for addr, rc := range c.clients {
		if !slices.Contains(keep, addr) {
			rc.Close()
			delete(c.clients, addr)
		}
	}
}

func (c *cluster) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rc := range c.clients {
		rc.Close()
	}
	clear(c.clients)
	return nil
}

// client returns our client of one node, with the options go-redis gives
// its own, save for a small pool and no retries: where a node does not
// answer, the next one is asked.
func (c *cluster) client(addr string) (*redis.Client, error) {
	if rc := c.clients[addr]; rc != nil {
		return rc, nil
	}
	c.goMu.Lock()
	theirs := c.goOpts
	c.goMu.Unlock()
	if theirs == nil {
		return nil, errors.New("go-redis knows no cluster node yet")
	}
	o := *theirs
	o.Addr, o.NodeAddress = addr, ""
	o.MaxRetries = -1
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 2, 0, 0
	o.PushNotificationProcessor = c.opts.PushNotificationProcessor // NewClient sets its own
	if m := o.MaintNotificationsConfig; m != nil {
		mc := *m // each client its own, as go-redis does
		o.MaintNotificationsConfig = &mc
	}
	rc := c.opts.NewClient(&o)
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
	first := errors.New("no cluster node known")
	for i, addr := range candidates {
		qctx, cancel := context.WithTimeout(ctx, nodeTimeout)
		top, err := c.ask(qctx, addr)
		cancel()
		if err == nil {
			c.asked = addr
			return top, nil
		}
		if i == 0 {
			first = fmt.Errorf("%s: %w", addr, err)
		}
		if ctx.Err() != nil {
			break
		}
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
	var noShards error
	if !c.noShards {
		shards, err := rc.ClusterShards(ctx).Result()
		if err == nil {
			return newTopology(c.fromShards(shards)), nil
		}
		if !isRedisError(err) {
			return topology{}, err
		}
		noShards = err
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		return topology{}, err
	}
	if noShards != nil {
		c.noShards = true
		c.log.Info("no CLUSTER SHARDS: following the cluster with CLUSTER SLOTS", "err", noShards)
	}
	return newTopology(fromSlots(slots, c.route)), nil
}

// fromShards reads CLUSTER SHARDS: each shard's masters that have not
// failed, or, where all have, those still owning slots, so that the hub is
// not live while those slots have no master that publishes.
func (c *cluster) fromShards(shards []redis.ClusterShard) (masters, replicas []string, owned []slotRange) {
	for _, sh := range shards {
		var up, down []string
		for _, n := range sh.Nodes {
			addr := c.route(c.shardNodeAddr(n))
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
		masters = append(masters, up...)
		for _, a := range up {
			for _, r := range sh.Slots {
				owned = append(owned, slotRange{int(r.Start), int(r.End), a})
			}
		}
	}
	return masters, replicas, owned
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
func fromSlots(slots []redis.ClusterSlot, route func(string) string) (masters, replicas []string, owned []slotRange) {
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			continue
		}
		m := route(r.Nodes[0].Addr)
		masters = append(masters, m)
		owned = append(owned, slotRange{r.Start, r.End, m})
		for _, n := range r.Nodes[1:] {
			replicas = append(replicas, route(n.Addr))
		}
	}
	return masters, replicas, owned
}

// newTopology builds a topology from its masters (with or without slots),
// replicas and slot ranges.
func newTopology(masters, replicas []string, owned []slotRange) topology {
	slices.SortFunc(owned, func(a, b slotRange) int { return cmp.Compare(a.start, b.start) })
	ranges := make(map[string][]string)
	for _, m := range masters {
		ranges[m] = nil
	}
	for _, r := range owned {
		ranges[r.master] = append(ranges[r.master], strconv.Itoa(r.start)+"-"+strconv.Itoa(r.end))
	}
	t := topology{slots: owned}
	var lines []string
	for m, rs := range ranges {
		t.masters = append(t.masters, m)
		lines = append(lines, m+" "+strings.Join(rs, ","))
	}
	slices.Sort(t.masters)
	slices.Sort(lines)
	slices.Sort(replicas)
	t.nodes = slices.Compact(slices.Concat(t.masters, replicas))
	t.shape = strings.Join(lines, ";")
	return t
}

// keySlot is the hash slot of key, as Redis Cluster computes it: CRC16
// (XMODEM) of the key, or of its hash tag (what is between the first {
// and the next }, when that is not empty), modulo 16384.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	return int(crc16(key) % 16384)
}

// crc16 is CRC-16/XMODEM: polynomial 0x1021, initial value 0.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// learn learns the node clients go-redis has, until it has once: those it
// creates from now on are learnt as they come (OnNewNode).
func (c *cluster) learn(ctx context.Context) {
	if c.learnt {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	c.learnt = c.cc.ForEachShard(lctx, func(_ context.Context, rc *redis.Client) error {
		c.add(rc)
		return nil
	}) == nil
}

func (c *cluster) add(rc *redis.Client) {
	o := rc.Options()
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if o.NodeAddress != "" {
		c.routed[o.NodeAddress] = o.Addr
	}
	if c.goOpts == nil {
		c.goOpts = o
	}
}

// route returns the address go-redis routes to for an announced one, or
// the announced one for a node go-redis has not seen yet.
func (c *cluster) route(announced string) string {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	return cmp.Or(c.routed[announced], announced)
}
