package probe

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store/redisconn"
)

// CmdStats is a reading of INFO commandstats: calls per command, named as
// Redis names them ("get", "client|setinfo").
type CmdStats map[string]int64

// ReadCmdStats reads INFO commandstats, summed over the masters of a cluster.
func ReadCmdStats(ctx context.Context, rdb redis.UniversalClient) (CmdStats, error) {
	sum := CmdStats{}
	err := eachInfo(ctx, rdb, "commandstats", func(info string) {
		for k, v := range parseCmdStats(info) {
			sum[k] += v
		}
	})
	return sum, err
}

// eachInfo reads INFO section from Redis, or from each master of a
// cluster, and hands each node's answer to f, one at a time.
func eachInfo(ctx context.Context, urdb redis.UniversalClient, section string, f func(info string)) error {
	var mu sync.Mutex
	return redisconn.EachMaster(ctx, urdb, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, section).Result()
		if err != nil {
			return fmt.Errorf("redis INFO %s: %w", section, err)
		}
		mu.Lock()
		defer mu.Unlock()
		f(info)
		return nil
	})
}

// Fields yields the "name:value" lines of a text such as an INFO answer
// or nchan_stub_status.
func Fields(info string) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if ok && !yield(name, value) {
				return
			}
		}
	}
}

// parseCmdStats reads lines such as
// "cmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0".
func parseCmdStats(info string) CmdStats {
	st := CmdStats{}
	for name, rest := range Fields(info) {
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !isCmd {
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

// Sub is the calls made between two readings. INFO is left out: the only
// caller of it is waitload, taking these readings.
func (s CmdStats) Sub(before CmdStats) CmdStats {
	d := CmdStats{}
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

// Total is every call of the reading.
func (s CmdStats) Total() int64 {
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

// Reads is the calls of readCommands.
func (s CmdStats) Reads() int64 {
	var t int64
	for _, name := range readCommands {
		t += s[name]
	}
	return t
}

// RedisCPU is the CPU time Redis has used (its main process's user +
// system), summed over the masters of a cluster.
func RedisCPU(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	var total time.Duration
	err := eachInfo(ctx, rdb, "cpu", func(info string) {
		total += parseCPUInfo(info)
	})
	return total, err
}

// parseCPUInfo reads used_cpu_sys and used_cpu_user (seconds) of INFO cpu.
func parseCPUInfo(info string) time.Duration {
	var secs float64
	for name, v := range Fields(info) {
		if name != "used_cpu_sys" && name != "used_cpu_user" {
			continue
		}
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			secs += s
		}
	}
	return time.Duration(math.Round(secs*1e6)) * time.Microsecond // INFO's precision
}
