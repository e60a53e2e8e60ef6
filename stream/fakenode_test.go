package stream_test

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/stream"
)

// A Redis node as keys mode's connections see it, for the unit tests of
// the subscription set under testing/synctest: every command of every
// connection is recorded, and processed in order, at once or, while the
// test holds them, when it lets them go; a publish reaches the
// connections subscribed to the key's channel; a connection can be cut.

const fakePrefix = "__keyspace@0__:"

// fakeCmd is a command a connection sent.
type fakeCmd struct {
	conn     int // which connection of the node, from 0
	name     string
	channels []string
	at       time.Time
}

// fakeNode is one node. Its zero value is not ready: use newFakeNode.
type fakeNode struct {
	name string

	mu    sync.Mutex
	conns []*fakeConn
	cmds  []fakeCmd
	hold  bool // commands wait for release before Redis processes them
}

func newFakeNode(name string) *fakeNode { return &fakeNode{name: name} }

// node is the hub's view of n.
func (n *fakeNode) node() stream.Node { return stream.Node{Name: n.name, Client: n} }

// Subscriber opens a connection (go-redis connects on the first command).
func (n *fakeNode) Subscriber(context.Context) stream.Subscriber {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &fakeConn{node: n, id: len(n.conns), subs: map[string]bool{}, signal: make(chan struct{}, 1)}
	n.conns = append(n.conns, c)
	return c
}

func (n *fakeNode) ConfigGet(ctx context.Context, _ string) *redis.MapStringStringCmd {
	return redis.NewMapStringStringResult(map[string]string{"notify-keyspace-events": stream.NotifyFlags}, nil)
}

func (n *fakeNode) ConfigSet(context.Context, string, string) *redis.StatusCmd {
	return redis.NewStatusResult("OK", nil)
}

// holdCommands makes Redis process nothing until release.
func (n *fakeNode) holdCommands() {
	n.mu.Lock()
	n.hold = true
	n.mu.Unlock()
}

// release processes every held command, in order, and no longer holds.
func (n *fakeNode) release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold = false
	for _, c := range n.conns {
		for _, f := range c.held {
			f()
		}
		c.held = nil
		c.wake()
	}
}

// publish sends keyspace event ev of key to every connection subscribed
// to its channel, as Redis does on a write.
func (n *fakeNode) publish(key, ev string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		if c.subs[fakePrefix+key] && !c.closed {
			c.out = append(c.out, &redis.Message{Channel: fakePrefix + key, Payload: ev})
			c.wake()
		}
	}
}

// cutAll ends every open connection, as a restarted Redis does.
func (n *fakeNode) cutAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		if !c.closed {
			c.closeLocked(io.EOF)
		}
	}
}

// commands returns what was sent named name ("subscribe", "unsubscribe").
func (n *fakeNode) commands(name string) []fakeCmd {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []fakeCmd
	for _, c := range n.cmds {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// subscribed returns the channels of jobs (the anchor's left out) the
// node's open connections are subscribed to, sorted.
func (n *fakeNode) subscribed() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, c := range n.conns {
		for ch := range c.subs {
			if !c.closed && ch != fakePrefix+"job:jobwait-anchor" {
				out = append(out, ch)
			}
		}
	}
	slices.Sort(out)
	return out
}

// fakeConn is one connection of a fakeNode.
type fakeConn struct {
	node   *fakeNode
	id     int
	subs   map[string]bool // as Redis has processed the commands
	out    []any           // replies and messages not received yet
	held   []func()        // commands not processed yet, in order
	closed bool
	err    error // what a receive returns once closed
	signal chan struct{}
}

func (c *fakeConn) wake() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// send records a command and has Redis process it, now or on release.
func (c *fakeConn) send(name string, channels []string, process func()) error {
	n := c.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return c.err
	}
	n.cmds = append(n.cmds, fakeCmd{conn: c.id, name: name, channels: slices.Clone(channels), at: time.Now()})
	if n.hold {
		c.held = append(c.held, process)
		return nil
	}
	process()
	c.wake()
	return nil
}

func (c *fakeConn) Subscribe(_ context.Context, channels ...string) error {
	return c.send("subscribe", channels, func() {
		for _, ch := range channels {
			c.subs[ch] = true
			c.out = append(c.out, &redis.Subscription{Kind: "subscribe", Channel: ch, Count: len(c.subs)})
		}
	})
}

func (c *fakeConn) Unsubscribe(_ context.Context, channels ...string) error {
	return c.send("unsubscribe", channels, func() {
		for _, ch := range channels {
			delete(c.subs, ch)
			c.out = append(c.out, &redis.Subscription{Kind: "unsubscribe", Channel: ch, Count: len(c.subs)})
		}
	})
}

func (c *fakeConn) PSubscribe(_ context.Context, patterns ...string) error {
	return errors.New("fake node: no pattern subscriptions")
}

func (c *fakeConn) Ping(_ context.Context, payload ...string) error {
	return c.send("ping", payload, func() {
		p := "PONG"
		if len(payload) > 0 {
			p = payload[0]
		}
		c.out = append(c.out, &redis.Pong{Payload: p})
	})
}

func (c *fakeConn) ReceiveTimeout(ctx context.Context, timeout time.Duration) (any, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	n := c.node
	for {
		n.mu.Lock()
		switch {
		case len(c.out) > 0:
			m := c.out[0]
			c.out = c.out[1:]
			n.mu.Unlock()
			return m, nil
		case c.closed:
			n.mu.Unlock()
			return nil, c.err
		}
		n.mu.Unlock()
		select {
		case <-c.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, os.ErrDeadlineExceeded
		}
	}
}

func (c *fakeConn) Close() error {
	c.node.mu.Lock()
	defer c.node.mu.Unlock()
	if !c.closed {
		c.closeLocked(errors.New("redis: client is closed"))
	}
	return nil
}

func (c *fakeConn) closeLocked(err error) {
	c.closed, c.err = true, err
	clear(c.subs)
	c.held = nil
	c.wake()
}

// fakeRedis is the hub's Redis over fake nodes: its masters, and which of
// them publishes each key (owner; nil: the first).
type fakeRedis struct {
	mu      sync.Mutex
	masters []*fakeNode
	owner   func(key string) string
	shape   string
}

func (r *fakeRedis) Ping(context.Context) *redis.StatusCmd { return redis.NewStatusResult("PONG", nil) }

func (r *fakeRedis) Publishers(context.Context) (stream.Publishers, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := stream.Publishers{Owner: r.owner, Shape: r.shape}
	var names []string
	for _, m := range r.masters {
		p.Masters = append(p.Masters, m.node())
		names = append(names, m.name)
	}
	if p.Shape == "" {
		p.Shape = strings.Join(names, ",")
	}
	return p, nil
}

// reroute makes owner the routing of keys, under a new shape.
func (r *fakeRedis) reroute(shape string, owner func(key string) string) {
	r.mu.Lock()
	r.owner, r.shape = owner, shape
	r.mu.Unlock()
}
