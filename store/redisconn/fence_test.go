package redisconn

import (
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// closeConn is a connection that only records being closed.
type closeConn struct {
	net.Conn
	closed bool
}

func (c *closeConn) Close() error { c.closed = true; return nil }

// TestFenceClosesConnectionsToFormerPrimaries checks the fence's rule:
// once the sentinels name a primary, every connection to another data node
// they have named (the old primary, a replica) is closed, and connections
// to the sentinels and to the primary are kept.
func TestFenceClosesConnectionsToFormerPrimaries(t *testing.T) {
	f := &fence{name: "jobs", conns: map[*fencedConn]struct{}{}, data: map[string]bool{}, log: slog.New(slog.DiscardHandler)}
	open := func(addr string) *closeConn {
		c := &closeConn{}
		f.conns[&fencedConn{Conn: c, addr: addr, f: f}] = struct{}{}
		return c
	}
	sentinel, p1, p2, replica := open("s:26379"), open("a:6379"), open("b:6379"), open("c:6379")

	f.update("a:6379", []string{"b:6379", "c:6379"})
	assert.False(t, sentinel.closed, "a sentinel's connection")
	assert.False(t, p1.closed, "the primary's connection")
	assert.True(t, p2.closed, "a replica's connection")
	assert.True(t, replica.closed, "a replica's connection")

	again := open("a:6379")
	f.update("b:6379", []string{"a:6379", "c:6379"}) // failed over to b
	assert.True(t, p1.closed, "the old primary's connection")
	assert.True(t, again.closed, "the old primary's connection")
	assert.False(t, sentinel.closed, "a sentinel's connection")
	assert.Len(t, f.conns, 1, "closed connections are forgotten")
}
