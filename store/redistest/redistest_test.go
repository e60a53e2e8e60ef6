package redistest

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStartWithTakesFreshPortsWhenOneIsTaken: a server whose port was
// taken before it could bind is launched again with fresh args.
func TestStartWithTakesFreshPortsWhenOneIsTaken(t *testing.T) {
	SkipIfShort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	s, err := node{args: func() ([]string, error) {
		calls++
		if calls == 1 {
			return []string{"--port", strconv.Itoa(port)}, nil // the later --port wins
		}
		return nil, nil
	}}.start(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	assert.Equal(t, 2, calls)
	assert.NotEqual(t, port, s.port)
	assert.NoError(t, s.Client(t).Ping(context.Background()).Err())
}

// TestSentinel: a deployment with passwords is healthy at start, its
// client writes through the primary, and a failover names a new one.
func TestSentinel(t *testing.T) {
	t.Parallel()
	sn := StartSentinel(t, SentinelPasswords{Data: "data-pw", Sentinel: "sentinel-pw"})
	ctx := context.Background()
	require.NoError(t, sn.Client(t).Set(ctx, "k", "v", 0).Err())
	opts, err := redis.ParseFailoverURL(sn.URL())
	require.NoError(t, err)
	assert.Equal(t, "sentinel-pw", opts.SentinelPassword)
	assert.Equal(t, "data-pw", opts.Password)
	old := sn.Primary(t)
	assert.Same(t, sn.Data[0], old)
	sn.Failover(t)
	p := sn.WaitPrimaryNot(t, old)
	assert.NotSame(t, old, p)
	sn.WaitHealthy(t)
	assert.Equal(t, "v", sn.Client(t).Get(ctx, "k").Val())
}

// TestSentinelTLS: the client of a TLS deployment reaches the primary over
// TLS, as its rediss:// URL names it.
func TestSentinelTLS(t *testing.T) {
	t.Parallel()
	certs := NewTLS(t)
	sn := StartSentinelTLS(t, certs)
	require.NoError(t, sn.Client(t).Ping(context.Background()).Err())
	opts, err := redis.ParseFailoverURL(sn.TLSURL())
	require.NoError(t, err)
	opts.TLSConfig = certs.ClientConfig(t)
	c := redis.NewFailoverClient(opts)
	defer c.Close()
	require.NoError(t, c.Set(context.Background(), "k", "v", 0).Err())
}

// TestClusterTLS: a TLS cluster is reached on its rediss:// URL, and a
// slot migrated in steps ends on its target with all its keys.
func TestClusterTLS(t *testing.T) {
	t.Parallel()
	certs := NewTLS(t)
	c := StartClusterTLS(t, certs)
	opts, err := redis.ParseClusterURL(c.TLSURL())
	require.NoError(t, err)
	opts.TLSConfig = certs.ClientConfig(t)
	cc := redis.NewClusterClient(opts)
	defer cc.Close()
	ctx := context.Background()
	require.NoError(t, cc.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, cc.Set(ctx, "{k}2", "v2", 0).Err()) // the same slot: moved by Finish
	from := c.MasterOf(t, "k")
	var to *Server
	for _, m := range c.Masters(t) {
		if m != from {
			to = m
		}
	}
	require.NotNil(t, to)
	m := c.BeginMigration(t, c.Slot(t, "k"), from, to)
	m.MoveKeys(t, "k")
	m.Finish(t)
	assert.Same(t, to, c.MasterOf(t, "k"))
	assert.Equal(t, "v", c.Client(t).Get(ctx, "k").Val())
	assert.Equal(t, "v2", c.Client(t).Get(ctx, "{k}2").Val())
}
