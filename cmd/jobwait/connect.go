package main

import (
	"fmt"
	"log/slog"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// backend is the Redis jobwait runs on.
type backend struct {
	client   redis.UniversalClient
	db       int    // the keyspace channel's database
	embedded bool   // the in-process store, for trying jobwait out
	desc     string // for the log; never holds a password
	close    func()
}

// connect opens REDIS_URL, or starts the embedded store when it is empty.
func connect(url string, log *slog.Logger) (*backend, error) {
	if url == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start the embedded store: %w", err)
		}
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		log.Warn("no REDIS_URL: running on the embedded in-process store, for trying jobwait out only (no persistence, no keyspace notifications: waits are polled)")
		return &backend{client: c, embedded: true, desc: "embedded", close: func() { c.Close(); mr.Close() }}, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	tune(opts)
	c := redis.NewClient(opts)
	return &backend{client: c, db: opts.DB, desc: opts.Addr, close: func() { c.Close() }}, nil
}

// tune sets timeouts that keep a slow Redis from holding a request past
// its budget, and a pool sized for many concurrent first reads.
func tune(o *redis.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 2e9
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 2e9
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 2e9
	}
	o.PoolSize = max(o.PoolSize, 64)
}
