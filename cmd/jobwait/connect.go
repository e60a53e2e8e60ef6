package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// probeTimeout bounds asking REDIS_URL's node whether it is a cluster node.
const probeTimeout = 2 * time.Second

// backend is the Redis jobwait runs on.
type backend struct {
	client   redis.UniversalClient // *redis.Client, or *redis.ClusterClient on a cluster
	db       int                   // the keyspace channel's database (0 on a cluster)
	embedded bool                  // the in-process store, for trying jobwait out
	cluster  bool
	desc     string // for the log; never holds a password
	close    func()

	// follow, when set, runs until ctx ends beside the hub: on Sentinel it
	// moves jobwait's connections to the primary after each switch.
	follow func(ctx context.Context) error

	// settle is set when the node could not be asked at start whether it
	// is a cluster node: jobwait then takes it for a single node, and
	// settle keeps asking until it answers. It returns nil for a single
	// node, and an error for a cluster node, which jobwait must be
	// restarted to use; it returns ctx's error when ctx ends first.
	settle func(ctx context.Context) error
}

// connect opens REDIS_URL, or starts the embedded store when it is empty.
// A URL with ?master_name= names Sentinel and gets a failover client. A URL
// that names a Redis Cluster node (INFO says cluster_enabled:1), or that
// lists seed nodes with ?addr=host:port, gets a cluster client.
// tc, if not nil, holds the CA and client certificate of rediss://.
func connect(ctx context.Context, rawURL string, tc *tls.Config, log *slog.Logger) (*backend, error) {
	if rawURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start the embedded store: %w", err)
		}
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		log.Warn("no REDIS_URL: running on the embedded in-process store, for trying jobwait out only (no persistence, no keyspace notifications: waits are polled)")
		return &backend{client: c, embedded: true, desc: "embedded", close: func() { c.Close(); mr.Close() }}, nil
	}
	if u, err := url.Parse(rawURL); err == nil && u.Query().Has("master_name") {
		return connectSentinel(ctx, rawURL, tc, log)
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// ?addr= and the other cluster-only options are refused by
		// ParseURL: such a URL names a cluster.
		if _, cerr := redis.ParseClusterURL(rawURL); cerr == nil {
			return connectCluster(ctx, rawURL, tc)
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.TLSConfig, err = withTLS(rawURL, opts.TLSConfig, tc); err != nil {
		return nil, err
	}
	tune(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled, &opts.PoolSize)
	quiet(&opts.DisableIdentity, &opts.MaintNotificationsConfig)
	opts.Dialer = dialer(opts.DialTimeout, opts.TLSConfig)
	if err := handshakeTrouble(ctx, opts.TLSConfig, opts.Dialer, opts.Addr); err != nil {
		return nil, err
	}
	// The probe uses database 0: a cluster node refuses SELECT of any other,
	// which would hide that it is one.
	popts := *opts
	popts.DB, popts.PoolSize = 0, 1
	probe := redis.NewClient(&popts)
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	isCluster, err := clusterEnabled(pctx, probe)
	cancel()
	if terr := tlsTrouble(err); terr != nil {
		probe.Close()
		return nil, terr
	}
	if err == nil {
		probe.Close()
		if isCluster {
			return connectCluster(ctx, rawURL, tc)
		}
	}
	c := redis.NewClient(opts)
	be := &backend{client: c, db: opts.DB, desc: opts.Addr, close: func() { c.Close() }}
	if err != nil {
		log.Warn("redis unreachable: taking REDIS_URL for a single node until it answers", "redis", opts.Addr, "err", err)
		be.settle = func(ctx context.Context) error {
			defer probe.Close()
			return settle(ctx, probe)
		}
	}
	return be, nil
}

// connectCluster opens a cluster client on rawURL, go-redis's cluster URL
// form.
func connectCluster(ctx context.Context, rawURL string, tc *tls.Config) (*backend, error) {
	opts, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.TLSConfig, err = withTLS(rawURL, opts.TLSConfig, tc); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return nil, fmt.Errorf("REDIS_URL: database %s on a Redis Cluster, which has database 0 only", db)
	}
	tune(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled, &opts.PoolSize) // the pool is per node
	quiet(&opts.DisableIdentity, &opts.MaintNotificationsConfig)
	opts.Dialer = dialer(opts.DialTimeout, opts.TLSConfig)
	if err := handshakeTrouble(ctx, opts.TLSConfig, opts.Dialer, opts.Addrs...); err != nil {
		return nil, err
	}
	c := redis.NewClusterClient(opts)
	// A TLS handshake that fails is told at start; an unreachable cluster
	// is waited for.
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	perr := c.Ping(pctx).Err()
	cancel()
	if terr := tlsTrouble(perr); terr != nil {
		c.Close()
		return nil, terr
	}
	return &backend{
		client: c, cluster: true,
		desc:  "cluster " + strings.Join(opts.Addrs, ","),
		close: func() { c.Close() },
	}, nil
}

// clusterEnabled asks a node whether it runs in cluster mode: HELLO's
// "mode", which no ACL refuses (HELLO needs no permission), so that
// asking leaves no refusal in Redis's ACL LOG. A server without HELLO
// (before Redis 6) is asked INFO, and where INFO is refused CLUSTER INFO,
// which a single node refuses too.
func clusterEnabled(ctx context.Context, c *redis.Client) (bool, error) {
	// The protocol the connection already speaks: HELLO switches to the
	// one it names.
	hello, err := c.Do(ctx, "HELLO", cmp.Or(c.Options().Protocol, 3)).Result()
	if err == nil {
		if mode, ok := helloField(hello, "mode"); ok {
			return mode == "cluster", nil
		}
	}
	if err != nil && !isRedisError(err) {
		return false, err
	}
	info, err := c.Info(ctx, "cluster").Result()
	if err == nil {
		return strings.Contains(info, "cluster_enabled:1"), nil
	}
	if !isRedisError(err) {
		return false, err
	}
	err = c.ClusterInfo(ctx).Err()
	if err == nil {
		return true, nil
	}
	if isRedisError(err) {
		return false, nil
	}
	return false, err
}

// helloField is one field of HELLO's answer: a map in RESP3, a flat list
// of names and values in RESP2.
func helloField(hello any, name string) (string, bool) {
	switch h := hello.(type) {
	case map[any]any:
		v, ok := h[name].(string)
		return v, ok
	case []any:
		for i := 0; i+1 < len(h); i += 2 {
			if h[i] == name {
				v, ok := h[i+1].(string)
				return v, ok
			}
		}
	}
	return "", false
}

// isRedisError tells an answer of Redis (an error reply) from a failure to
// get one.
func isRedisError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// settle asks the node whether it is a cluster node until it answers.
func settle(ctx context.Context, c *redis.Client) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		isCluster, err := clusterEnabled(pctx, c)
		cancel()
		switch {
		case err != nil:
			continue
		case isCluster:
			return errors.New("REDIS_URL names a Redis Cluster node, which jobwait took for a single node since it did not answer at start: restarting")
		default:
			return nil
		}
	}
}

// tune sets, on a client's or a cluster client's options, timeouts that
// keep a slow Redis from holding a request past its budget, and a pool
// sized for many concurrent first reads.
func tune(dial, read, write *time.Duration, contextTimeout *bool, poolSize *int) {
	*dial = cmp.Or(*dial, 2*time.Second)
	*read = cmp.Or(*read, 2*time.Second)
	*write = cmp.Or(*write, 2*time.Second)
	// A request's deadline (the Redis timeout) bounds the socket reads too:
	// otherwise each retry of a frozen Redis waits out ReadTimeout again.
	*contextTimeout = true
	*poolSize = max(*poolSize, 64)
}

// quiet makes a client send, on each connection it opens, nothing but
// HELLO (with AUTH) and SELECT: no CLIENT SETINFO, which Redis before 7.2
// answers with an error and an ACL without +client|setinfo refuses, and
// no CLIENT MAINT_NOTIFICATIONS, which only Redis Enterprise and Redis
// Cloud know. A correctly configured jobwait leaves no error in Redis's
// INFO errorstats and no refusal in its ACL LOG, so that a team alerting
// on either hears nothing from it.
func quiet(noIdentity *bool, maint **maintnotifications.Config) {
	*noIdentity = true
	*maint = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}
