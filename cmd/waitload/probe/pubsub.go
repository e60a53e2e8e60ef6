package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// What a single Redis node sends its subscribers, and what processes
// spend, to the byte and the nanosecond: the figures of waitload fanout.

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
	for _, line := range strings.Split(list, "\n") {
		f := clientFields(line)
		if !strings.Contains(f["flags"], "P") {
			continue
		}
		ps.Clients++
		for _, k := range []string{"sub", "psub"} {
			n, _ := strconv.ParseInt(f[k], 10, 64)
			ps.Channels += n
		}
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
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	return f
}

// bytesSent reads `ss -tinH` output: each connection is a line with its
// addresses, then a line of tcp_info; it returns bytes_sent by the peer's
// port.
func bytesSent(out string) map[string]int64 {
	sent := map[string]int64{}
	peer := ""
	for _, line := range strings.Split(out, "\n") {
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

// NetOutput is Redis's total_net_output_bytes (INFO stats), summed over
// the masters of a cluster.
func NetOutput(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	var total int64
	err := eachInfo(ctx, rdb, "stats", func(info string) {
		for name, v := range Fields(info) {
			if name == "total_net_output_bytes" {
				n, _ := strconv.ParseInt(v, 10, 64)
				total += n
			}
		}
	})
	return total, err
}

// ThreadsCPU is the time every thread of the processes has run, from
// /proc/PID/task/*/schedstat: nanoseconds, where /proc/PID/stat counts
// hundredths of a second (ProcCPU), too coarse for a few microseconds a
// write summed over 16 processes.
func ThreadsCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		if err != nil || len(tasks) == 0 {
			return 0, fmt.Errorf("process %d: no threads in /proc", pid)
		}
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			if err != nil {
				continue // the thread ended meanwhile
			}
			ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", t, err)
			}
			total += time.Duration(ns)
		}
	}
	return total, nil
}

// Metrics reads jobwait's /metrics at base, one value per metric name
// (the series of a name summed).
func Metrics(ctx context.Context, client *http.Client, base string) (map[string]float64, error) {
	body, err := Get(ctx, client, base+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("jobwait /metrics: %w", err)
	}
	return parseMetrics(string(body)), nil
}
