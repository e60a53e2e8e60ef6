package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// cmdStats is a reading of INFO commandstats: calls per command, named as
// Redis names them ("get", "client|setinfo").
type cmdStats map[string]int64

// readCmdStats reads INFO commandstats.
func readCmdStats(ctx context.Context, urdb redis.UniversalClient) (cmdStats, error) {
	if cc, ok := urdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		sum := cmdStats{}
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			st, err := readCmdStats(ctx, c)
			mu.Lock()
			for k, v := range st {
				sum[k] += v
			}
			mu.Unlock()
			return err
		})
		return sum, err
	}
	rdb := urdb.(*redis.Client)
	s, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return parseCmdStats(s), nil
}

// parseCmdStats reads lines such as
// "cmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0".
func parseCmdStats(info string) cmdStats {
	st := cmdStats{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					st[name] = n
				}
			}
		}
	}
	return st
}

// sub is the calls made between two readings. INFO is left out: the only
// caller of it is waitload, taking these readings.
func (s cmdStats) sub(before cmdStats) cmdStats {
	d := cmdStats{}
	for name, n := range s {
		if name == "info" {
			continue
		}
		if n -= before[name]; n != 0 {
			d[name] = n
		}
	}
	return d
}

func (s cmdStats) total() int64 {
	var t int64
	for _, n := range s {
		t += n
	}
	return t
}

// readCommands are the commands by which jobwait reads job data (store
// reads with GET and, for hash records, HGETALL; a polling notifier may
// batch with MGET). The producer sends none of them.
var readCommands = []string{"get", "mget", "hgetall", "hget", "hmget", "exists", "type"}

func (s cmdStats) reads() int64 {
	var t int64
	for _, name := range readCommands {
		t += s[name]
	}
	return t
}
