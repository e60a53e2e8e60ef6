package probe

import (
	"context"
	"fmt"
	"iter"
	"math"
	"net"
	"os/exec"
	"slices"
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

// parseCmdStats reads lines such as
// "cmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0".
func parseCmdStats(info string) CmdStats {
	st := CmdStats{}
	for name, rest := range Fields(info) {
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !isCmd {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
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
		if n -= before[name]; n != 0 && name != "info" {
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
	secs, err := sumInfo(ctx, rdb, "cpu", "used_cpu_sys", "used_cpu_user")
	return time.Duration(math.Round(secs*1e6)) * time.Microsecond, err // INFO's precision
}

// NetOutput is Redis's total_net_output_bytes (INFO stats), summed over
// the masters of a cluster.
func NetOutput(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	n, err := sumInfo(ctx, rdb, "stats", "total_net_output_bytes")
	return int64(n), err
}

// sumInfo is the named fields of INFO section summed over the masters.
func sumInfo(ctx context.Context, rdb redis.UniversalClient, section string, names ...string) (float64, error) {
	var total float64
	err := eachInfo(ctx, rdb, section, func(info string) { total += sumFields(info, names...) })
	return total, err
}

// sumFields is the sum of the named numeric fields of an INFO answer.
func sumFields(info string, names ...string) float64 {
	var sum float64
	for name, v := range Fields(info) {
		if n, err := strconv.ParseFloat(v, 64); err == nil && slices.Contains(names, name) {
			sum += n
		}
	}
	return sum
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
		for line := range strings.Lines(info) {
			name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok && !yield(name, value) {
				return
			}
		}
	}
}

// PubSub is a reading of a Redis node's subscription connections.
type PubSub struct {
	Clients  int   // connections in subscribed mode
	Channels int64 // channels and patterns they hold, summed
	// Sent is the bytes Redis has sent on those connections since each
	// opened (the kernel's tcp_info bytes_sent of Redis's end), summed.
	Sent int64
}

// ReadPubSub reads the subscription connections of the node rdb talks to
// (CLIENT LIST TYPE pubsub) and, for Sent, the kernel's count of what
// Redis wrote on each (ss -ti): so only a node on this machine.
func ReadPubSub(ctx context.Context, rdb *redis.Client) (PubSub, error) {
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return PubSub{}, fmt.Errorf("CLIENT LIST: %w", err)
	}
	var ps PubSub
	ports := map[string]bool{}
	for line := range strings.SplitSeq(list, "\n") {
		f := clientFields(line)
		if !strings.Contains(f["flags"], "P") {
			continue
		}
		ps.Clients++
		sub, _ := strconv.ParseInt(f["sub"], 10, 64)
		psub, _ := strconv.ParseInt(f["psub"], 10, 64)
		ps.Channels += sub + psub
		if _, port, err := net.SplitHostPort(f["addr"]); err == nil {
			ports[port] = true
		}
	}
	_, port, err := net.SplitHostPort(rdb.Options().Addr)
	if err != nil {
		return ps, nil // a Sentinel client names no node: Sent unknown
	}
	out, err := exec.CommandContext(ctx, "ss", "-tinH", "state", "established", "( sport = :"+port+" )").Output()
	if err != nil {
		return ps, fmt.Errorf("ss: %w", err)
	}
	for peer, sent := range bytesSent(string(out)) {
		if ports[peer] {
			ps.Sent += sent
		}
	}
	return ps, nil
}

// clientFields reads one line of CLIENT LIST ("id=3 addr=127.0.0.1:44546 …").
func clientFields(line string) map[string]string {
	f := map[string]string{}
	for kv := range strings.FieldsSeq(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	return f
}

// bytesSent reads `ss -tinH` output: each connection is a line with its
// addresses, then an indented line of tcp_info; it returns bytes_sent by
// the peer's port.
func bytesSent(out string) map[string]int64 {
	sent := map[string]int64{}
	peer := ""
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 4 && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			_, peer, _ = net.SplitHostPort(fields[3])
			continue
		}
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "bytes_sent:"); ok && peer != "" {
				n, _ := strconv.ParseInt(v, 10, 64)
				sent[peer] += n
			}
		}
	}
	return sent
}
