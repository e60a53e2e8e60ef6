package redisconn

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// plan is what REDIS_URL names, before any node is asked: one field is set.
type plan struct {
	embedded bool                   // no URL: the in-process store
	node     *redis.Options         // one node, or a cluster node (asked at Open)
	cluster  *redis.ClusterOptions  // seed nodes of a Redis Cluster (?addr=)
	sentinel *redis.FailoverOptions // Redis Sentinel (?master_name=)
}

// parse reads REDIS_URL in go-redis's forms with the TLS settings tc, and
// tunes the client options. It asks no node anything.
func parse(rawURL string, tc *tls.Config) (plan, error) {
	if rawURL == "" {
		return plan{embedded: true}, nil
	}
	u, err := url.Parse(rawURL)
	if err == nil && u.Query().Has("skip_verify") {
		return plan{}, errSkipVerify
	}
	if err == nil && u.Query().Has("master_name") {
		o, err := parseSentinel(rawURL, tc)
		return plan{sentinel: o}, err
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// ParseURL refuses ?addr= and the other cluster-only options.
		if _, cerr := redis.ParseClusterURL(rawURL); cerr == nil {
			o, err := parseCluster(rawURL, tc)
			return plan{cluster: o}, err
		}
		return plan{}, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.TLSConfig, err = withTLS(opts.TLSConfig, tc); err != nil {
		return plan{}, err
	}
	tune(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled, &opts.PoolSize)
	quiet(&opts.DisableIdentity, &opts.MaintNotificationsConfig)
	opts.Dialer = dialer(opts.DialTimeout, opts.TLSConfig)
	return plan{node: opts}, nil
}

func parseCluster(rawURL string, tc *tls.Config) (*redis.ClusterOptions, error) {
	opts, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.TLSConfig, err = withTLS(opts.TLSConfig, tc); err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL) // ParseClusterURL parsed it
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return nil, fmt.Errorf("REDIS_URL: database %s on a Redis Cluster, which has database 0 only", db)
	}
	tune(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled, &opts.PoolSize)
	quiet(&opts.DisableIdentity, &opts.MaintNotificationsConfig)
	opts.Dialer = dialer(opts.DialTimeout, opts.TLSConfig)
	return opts, nil
}

// parseSentinel reads go-redis's failover URL form: the sentinels as host
// and ?addr=, the primary as ?master_name=, the sentinels' credentials as
// the URL's user, the data nodes' as ?username= and ?password=.
func parseSentinel(rawURL string, tc *tls.Config) (*redis.FailoverOptions, error) {
	opts, err := redis.ParseFailoverURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.MasterName == "" {
		return nil, errors.New("REDIS_URL: ?master_name= is empty: name the primary Sentinel monitors")
	}
	if opts.TLSConfig, err = withTLS(opts.TLSConfig, tc); err != nil {
		return nil, err
	}
	tune(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled, &opts.PoolSize)
	opts.DisableIdentity = true // see quiet; go-redis turns maintenance notifications off itself
	return opts, nil
}

// tune sets timeouts that keep a slow Redis from holding a request past its
// budget, and a pool for many concurrent first reads.
func tune(dial, read, write *time.Duration, contextTimeout *bool, poolSize *int) {
	*dial = cmp.Or(*dial, 2*time.Second)
	*read = cmp.Or(*read, 2*time.Second)
	*write = cmp.Or(*write, 2*time.Second)
	// A request's deadline (the Redis timeout) bounds the socket reads too:
	// otherwise each retry of a frozen Redis waits out ReadTimeout again.
	*contextTimeout = true
	*poolSize = max(*poolSize, 64)
}

// quiet makes a client send nothing but HELLO (with AUTH) and SELECT on a
// new connection: no CLIENT SETINFO, which Redis before 7.2 answers with an
// error and an ACL may refuse, and no CLIENT MAINT_NOTIFICATIONS, which
// only Redis Enterprise and Cloud know (see doc.go).
func quiet(noIdentity *bool, maint **maintnotifications.Config) {
	*noIdentity = true
	*maint = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// clusterEnabled asks a node, within probeTimeout, whether it runs in
// cluster mode: HELLO's "mode", which needs no permission (no refusal in
// the ACL LOG); before Redis 6, INFO; where INFO is refused, CLUSTER INFO,
// which a single node refuses too.
func clusterEnabled(ctx context.Context, c *redis.Client) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// HELLO switches to the protocol it names: name the one in use.
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
	if err = c.ClusterInfo(ctx).Err(); isRedisError(err) {
		return false, nil
	}
	return err == nil, err
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

// isRedisError tells an error reply from a failure to get one.
func isRedisError(err error) bool { return errors.As(err, new(redis.Error)) }
