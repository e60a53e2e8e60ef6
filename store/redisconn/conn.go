package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"jobwait/stream"
)

// probeTimeout bounds each question Open asks.
const probeTimeout = 2 * time.Second

// Settings say which Redis to open.
type Settings struct {
	// URL is REDIS_URL; empty: the embedded in-process store.
	URL string
	// TLS holds the CA and client certificate of rediss:// (LoadTLS); nil:
	// the system's roots, no client certificate.
	TLS *tls.Config
}

// Conn is the Redis jobwait runs on: its client, its shape, and what
// follows it (Run).
type Conn struct {
	client   redis.UniversalClient
	db       int  // the keyspace channel's database (0 on a cluster)
	embedded bool // the in-process store, for trying jobwait out
	desc     string
	closers  []func() error
	cluster  *cluster      // on a Redis Cluster: its masters, followed
	fence    *fence        // on Sentinel: moves jobwait's connections to the primary
	unsure   *redis.Client // REDIS_URL's node, not asked at start if it is a cluster's: Run asks
}

// Of returns a Conn over a client made elsewhere (a test's): a
// *redis.ClusterClient is a cluster, any other client one node. It logs to
// slog's default logger; its Close leaves c open.
func Of(c redis.UniversalClient) *Conn { return of(c, slog.Default()) }

func of(c redis.UniversalClient, log *slog.Logger) *Conn {
	conn := &Conn{client: c, desc: "redis"}
	switch rc := c.(type) {
	case *redis.ClusterClient:
		conn.desc = "cluster " + strings.Join(rc.Options().Addrs, ",")
		conn.cluster = newCluster(rc, log)
		conn.closers = append(conn.closers, conn.cluster.close)
	case *redis.Client:
		conn.db, conn.desc = rc.Options().DB, rc.Options().Addr
	}
	return conn
}

// Open opens s.URL, or starts the embedded store when it is empty. A URL
// with ?master_name= names Sentinel; one that names a Cluster node (HELLO
// says so), or lists seeds with ?addr=, gets a cluster client. A TLS
// setting that cannot work is an error; a Redis that does not answer is
// waited for.
func Open(ctx context.Context, s Settings, log *slog.Logger) (*Conn, error) {
	p, err := parse(s.URL, s.TLS)
	switch {
	case err != nil:
		return nil, err
	case p.embedded:
		return openEmbedded(log)
	case p.sentinel != nil:
		return openSentinel(ctx, p.sentinel, log)
	case p.cluster != nil:
		return openCluster(ctx, p.cluster, log)
	}
	opts := p.node
	if err := handshakeTrouble(ctx, opts.TLSConfig, opts.Dialer, opts.Addr); err != nil {
		return nil, err
	}
	// The probe uses database 0: a cluster node refuses SELECT of any other,
	// which would hide that it is one.
	popts := *opts
	popts.DB, popts.PoolSize = 0, 1
	probe := redis.NewClient(&popts)
	isCluster, err := clusterEnabled(ctx, probe)
	if err == nil {
		probe.Close()
		if isCluster {
			co, err := parseCluster(s.URL, s.TLS)
			if err != nil {
				return nil, err
			}
			return openCluster(ctx, co, log)
		}
	}
	conn := of(redis.NewClient(opts), log)
	conn.closers = append(conn.closers, conn.client.Close)
	if err != nil {
		log.Warn("redis unreachable: taking REDIS_URL for a single node until it answers", "redis", opts.Addr, "err", err)
		conn.closers, conn.unsure = append(conn.closers, probe.Close), probe
	}
	return conn, nil
}

func openEmbedded(log *slog.Logger) (*Conn, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the embedded store: %w", err)
	}
	conn := of(redis.NewClient(&redis.Options{Addr: mr.Addr()}), log)
	conn.embedded, conn.desc = true, "embedded"
	conn.closers = append(conn.closers, conn.client.Close, func() error { mr.Close(); return nil })
	log.Warn("no REDIS_URL: running on the embedded in-process store, for trying jobwait out only (no persistence, no keyspace notifications: waits are polled)")
	return conn, nil
}

func openCluster(ctx context.Context, opts *redis.ClusterOptions, log *slog.Logger) (*Conn, error) {
	if err := handshakeTrouble(ctx, opts.TLSConfig, opts.Dialer, opts.Addrs...); err != nil {
		return nil, err
	}
	conn := of(redis.NewClusterClient(opts), log)
	conn.closers = append(conn.closers, conn.client.Close)
	// The nodes the cluster announces may fail a handshake the seeds passed.
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if terr := tlsTrouble(conn.client.Ping(pctx).Err()); terr != nil {
		conn.Close()
		return nil, terr
	}
	return conn, nil
}

// Client sends jobwait's commands.
func (c *Conn) Client() redis.UniversalClient { return c.client }

// DB is the database number of the keyspace channels (0 on a cluster).
func (c *Conn) DB() int { return c.db }

// Sharded reports whether one job's keys may live on different nodes.
func (c *Conn) Sharded() bool { return c.cluster != nil }

// String says which Redis this is, for the log; never with a password.
func (c *Conn) String() string { return c.desc }

// Ping asks Redis for a sign of life.
func (c *Conn) Ping(ctx context.Context) *redis.StatusCmd { return c.client.Ping(ctx) }

// Publishers asks which nodes publish the keyspace events of jobwait's
// keys (see Shape in doc.go).
func (c *Conn) Publishers(ctx context.Context) (stream.Publishers, error) {
	if c.cluster != nil {
		return c.cluster.publishers(ctx)
	}
	return stream.Publishers{Masters: []stream.Node{Node(c.desc, c.client)}, Shape: c.desc}, nil
}

// NotifyMode is the notify mode to run with when mode is asked for: the
// embedded store publishes no notifications, so auto polls there.
func (c *Conn) NotifyMode(mode stream.Mode) stream.Mode {
	if c.embedded && mode == stream.Auto {
		return stream.Poll
	}
	return mode
}

// Run follows Redis until ctx ends: on Sentinel the fence (see
// openSentinel); where REDIS_URL's node did not answer at start, it asks it
// until it does, and returns an error should it be a cluster node, which
// jobwait must be restarted to use.
func (c *Conn) Run(ctx context.Context) error {
	switch {
	case c.fence != nil:
		c.fence.watch(ctx)
	case c.unsure != nil:
		var err error
		every(ctx, time.Second, func() bool {
			isCluster, aerr := clusterEnabled(ctx, c.unsure)
			if isCluster && ctx.Err() == nil {
				err = errors.New("REDIS_URL names a Redis Cluster node, which jobwait took for a single node since it did not answer at start: restarting")
			}
			return isCluster || aerr == nil
		})
		return err
	}
	return nil
}

// every calls f at once, then every d, until f returns true or ctx ends.
func every(ctx context.Context, d time.Duration, f func() (done bool)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for !f() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes what Open opened.
func (c *Conn) Close() error {
	var errs []error
	for _, f := range c.closers {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// nodeClient is one node's client as the hub uses it (stream.NodeClient).
type nodeClient struct{ redis.UniversalClient }

// Subscriber returns a subscription connection with nothing subscribed:
// go-redis connects it on its first command.
func (c nodeClient) Subscriber(ctx context.Context) stream.Subscriber {
	return c.UniversalClient.Subscribe(ctx)
}

// Node is the hub's node named name, reached through c: for tests that
// hand the hub nodes of their own.
func Node(name string, c redis.UniversalClient) stream.Node {
	return stream.Node{Name: name, Client: nodeClient{c}}
}

// EachMaster calls f with a client of each master behind c, one at a
// time: c itself when it is one node's, each master's on a Cluster; for
// tools that read or prepare every node.
func EachMaster(ctx context.Context, c redis.UniversalClient, f func(context.Context, *redis.Client) error) error {
	switch rc := c.(type) {
	case *redis.ClusterClient:
		return rc.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, rc)
	}
	return fmt.Errorf("redisconn: a %T is neither one node's client nor a cluster's", c)
}

// Single returns c as one node's client; false on a Cluster.
func Single(c redis.UniversalClient) (*redis.Client, bool) {
	rc, ok := c.(*redis.Client)
	return rc, ok
}

// redisLog logs go-redis's messages (one per failed dial while Redis is
// away) at debug level: the hub reports an outage once.
type redisLog struct{ *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.DebugContext(ctx, fmt.Sprintf(format, v...), "source", "go-redis")
}

// RouteLogs sends go-redis's own messages, process-wide, to log at debug
// level. Call it once, before Open.
func RouteLogs(log *slog.Logger) { redis.SetLogger(redisLog{log}) }
