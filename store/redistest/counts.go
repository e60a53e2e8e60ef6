package redistest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Commands is a reading of a server's INFO commandstats: the calls of each
// command since the server started, named as Redis names them ("mget",
// "config|get").
type Commands map[string]int64

// ReadCommands reads the commandstats of the server c talks to.
func ReadCommands(tb testing.TB, c *redis.Client) Commands {
	tb.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatalf("INFO commandstats: %v", err)
	}
	cs := Commands{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=12,usec=30,usec_per_call=2.50,...
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		if n, err := strconv.ParseInt(calls, 10, 64); err == nil {
			cs[name] = n
		}
	}
	return cs
}

// Since returns the calls made between before and cs, by command, leaving
// out INFO: the readings' own.
func (cs Commands) Since(before Commands) Commands {
	d := Commands{}
	for name, n := range cs {
		if name != "info" && n > before[name] {
			d[name] = n - before[name]
		}
	}
	return d
}

// Total is the sum of the calls.
func (cs Commands) Total() int64 {
	var t int64
	for _, n := range cs {
		t += n
	}
	return t
}

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
func (t *Trips) DialHook(next redis.DialHook) redis.DialHook { return next }

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
