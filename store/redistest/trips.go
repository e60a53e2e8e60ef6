package redistest

import (
	"context"
	"net"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Trips counts the round trips and commands a client sends: a command sent
// alone is one round trip, a pipeline is one round trip of its commands.
// Pub/sub traffic is not counted.
type Trips struct {
	mu    sync.Mutex
	trips int
	cmds  []string // the names of the commands sent, in order
}

// CountTrips adds a Trips hook to c.
func CountTrips(c interface{ AddHook(redis.Hook) }) *Trips {
	t := &Trips{}
	c.AddHook(t)
	return t
}

// Reset zeroes the counts.
func (t *Trips) Reset() {
	t.mu.Lock()
	t.trips, t.cmds = 0, nil
	t.mu.Unlock()
}

// Count returns the round trips and the commands' names since the last Reset.
func (t *Trips) Count() (trips int, cmds []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.trips, slices.Clone(t.cmds)
}

func (t *Trips) add(cmds ...redis.Cmder) {
	t.mu.Lock()
	t.trips++
	for _, c := range cmds {
		t.cmds = append(t.cmds, c.Name())
	}
	t.mu.Unlock()
}

// DialHook implements redis.Hook.
func (t *Trips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook implements redis.Hook.
func (t *Trips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t.add(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (t *Trips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t.add(cmds...)
		return next(ctx, cmds)
	}
}
