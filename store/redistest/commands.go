package redistest

import (
	"context"
	"strconv"
	"strings"
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
