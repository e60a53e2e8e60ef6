package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// fenceEvery is how often the fence asks the sentinels who the primary is.
const fenceEvery = 250 * time.Millisecond

// openSentinel opens a Sentinel-aware client with opts (parseSentinel).
//
// After a switch, go-redis's failover client sends new commands to the new
// primary but leaves an open PubSub where it is. Sentinel kills the old
// primary's clients only once it reaches it: while the old primary is
// frozen or cut off, the hub would listen to a primary nobody writes to,
// and /readyz say ready. The fence closes, within fenceEvery of the
// sentinels naming a new primary, every connection to a data node that is
// not the primary, so that the hub subscribes again on the new one and
// re-reads every watched job.
func openSentinel(ctx context.Context, opts *redis.FailoverOptions, log *slog.Logger) (*Conn, error) {
	if err := handshakeTrouble(ctx, opts.TLSConfig, dialer(opts.DialTimeout, opts.TLSConfig), opts.SentinelAddrs...); err != nil {
		return nil, err
	}
	f := &fence{name: opts.MasterName, conns: map[*fencedConn]struct{}{}, data: map[string]bool{}, log: log}
	// go-redis does no TLS of its own through a Dialer.
	opts.Dialer = f.dialer(opts.DialTimeout, opts.TLSConfig)
	conn := of(redis.NewFailoverClient(opts), log)
	conn.db, conn.fence = opts.DB, f
	conn.desc = "sentinel " + opts.MasterName + " via " + strings.Join(opts.SentinelAddrs, ",")
	conn.closers = append(conn.closers, conn.client.Close)
	for _, a := range opts.SentinelAddrs {
		so := &redis.Options{
			Addr:        a,
			Username:    opts.SentinelUsername,
			Password:    opts.SentinelPassword,
			TLSConfig:   opts.TLSConfig,
			Dialer:      dialer(opts.DialTimeout, opts.TLSConfig),
			DialTimeout: opts.DialTimeout, ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, // a sentinel that does not answer: ask the next
			PoolSize:              1,
		}
		quiet(&so.DisableIdentity, &so.MaintNotificationsConfig)
		sc := redis.NewSentinelClient(so)
		f.sentinels = append(f.sentinels, sc)
		conn.closers = append(conn.closers, sc.Close)
	}
	return conn, nil
}

// fence closes connections to data nodes that are no longer the primary.
type fence struct {
	name      string
	sentinels []*redis.SentinelClient
	log       *slog.Logger

	mu      sync.Mutex
	primary string                   // as the sentinels last said; "" before they answered
	data    map[string]bool          // every data node's address the sentinels named
	conns   map[*fencedConn]struct{} // every open connection jobwait dialed
}

// dialer dials as dialer does, keeping the connection for the fence.
func (f *fence) dialer(timeout time.Duration, tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := dialer(timeout, tc)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		fc := &fencedConn{Conn: c, addr: addr, f: f}
		f.mu.Lock()
		f.conns[fc] = struct{}{}
		f.mu.Unlock()
		return fc, nil
	}
}

// watch asks the sentinels every fenceEvery until ctx ends.
func (f *fence) watch(ctx context.Context) {
	failing := false
	every(ctx, fenceEvery, func() bool {
		primary, replicas, err := f.ask(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			f.log.Warn("no sentinel answers: the primary is not known", "master_name", f.name, "err", err)
		case err == nil:
			failing = false
			f.update(primary, replicas)
		}
		return false
	})
}

// ask asks each sentinel in turn for the primary's address and its replicas'.
func (f *fence) ask(ctx context.Context) (string, []string, error) {
	var first error
	for _, s := range f.sentinels {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		addr, err := s.GetMasterAddrByName(qctx, f.name).Result()
		var reps []map[string]string
		if err == nil {
			reps, err = s.Replicas(qctx, f.name).Result()
		}
		cancel()
		if err == nil && len(addr) == 2 {
			var replicas []string
			for _, r := range reps {
				if r["ip"] != "" && r["port"] != "" {
					replicas = append(replicas, net.JoinHostPort(r["ip"], r["port"]))
				}
			}
			return net.JoinHostPort(addr[0], addr[1]), replicas, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = errors.New("no sentinel configured")
	}
	return "", nil, first
}

// update closes every connection to a data node that is not primary.
func (f *fence) update(primary string, replicas []string) {
	f.mu.Lock()
	prev := f.primary
	f.primary = primary
	f.data[primary] = true
	for _, r := range replicas {
		f.data[r] = true
	}
	var stale []*fencedConn
	for c := range f.conns {
		if c.addr != primary && f.data[c.addr] {
			stale = append(stale, c)
		}
	}
	f.mu.Unlock()
	if prev != "" && prev != primary {
		f.log.Warn("sentinel switched the primary: moving to it", "master_name", f.name, "from", prev, "to", primary)
	}
	for _, c := range stale {
		c.Close()
	}
}

// fencedConn is a connection the fence may close.
type fencedConn struct {
	net.Conn
	addr string
	f    *fence
}

func (c *fencedConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}
