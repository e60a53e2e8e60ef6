package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// CPU is the processor time the server measured and its Redis used from
// the first completion until the last waiter ended: what the deliveries
// cost, on the same work whichever server is measured. The latency clocks
// differ in what they can see of a server's backlog; this figure does not.
// The load client's own time over the same window says whether the run
// measured the servers at all: a client that used its core whole (see
// ModeReport.ClientBusy) delivered its reads, and its producer's writes, late.
type CPU struct {
	// ServerMs is the user + system time of the server's processes
	// (-cpu-pids, read from /proc); 0 when not measured.
	ServerMs float64 `json:"serverMs"`
	// RedisMs is Redis's own (INFO cpu; every master of a cluster).
	RedisMs float64 `json:"redisMs"`
	// ClientMs is this process's user + system time: the producer and,
	// with -procs 1, every waiter; 0 with -procs > 1 (not measured).
	ClientMs float64 `json:"clientMs"`
}

// ClientBusy is the share of one core, in per cent, the load client used
// from the first completion until the last waiter ended: near 100, the
// client was the bottleneck of its run.
func (m ModeReport) ClientBusy() float64 {
	secs := m.Phases.Complete + m.Phases.Drain
	if secs <= 0 {
		return 0
	}
	return 100 * m.CPU.ClientMs / (secs * 1000)
}

// userHZ is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux
// whatever the kernel's own tick.
const userHZ = 100

// cpuReading is one reading of each.
type cpuReading struct {
	server, redis, client time.Duration
}

// readCPU reads the CPU time the server's processes, Redis and this
// process have used so far.
func (r *run) readCPU(ctx context.Context) (cpuReading, error) {
	var c cpuReading
	var err error
	if len(r.cfg.CPUPids) > 0 {
		if c.server, err = procCPU(r.cfg.CPUPids); err != nil {
			return c, err
		}
	}
	if r.cfg.Procs == 1 {
		if c.client, err = procCPU([]int{os.Getpid()}); err != nil {
			return c, err
		}
	}
	c.redis, err = redisCPU(ctx, r.rdb)
	return c, err
}

// since is the CPU used between start and c.
func (c cpuReading) since(start cpuReading) CPU {
	return CPU{
		ServerMs: float64(c.server-start.server) / float64(time.Millisecond),
		RedisMs:  float64(c.redis-start.redis) / float64(time.Millisecond),
		ClientMs: float64(c.client-start.client) / float64(time.Millisecond),
	}
}

// procCPU is the user + system time the processes have used (-cpu-pids:
// the server's; this process's own).
func procCPU(pids []int) (time.Duration, error) {
	var ticks int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("-cpu-pids: %w", err)
		}
		t, err := statTicks(string(data))
		if err != nil {
			return 0, fmt.Errorf("-cpu-pids: /proc/%d/stat: %w", pid, err)
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statTicks reads utime + stime from a /proc/PID/stat line. The command
// name, in parentheses, may hold spaces and parentheses itself: fields are
// counted from the last ')'.
func statTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(stat[i+1:])
	// After the name: state (field 3) … utime (14), stime (15).
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q, stime %q", f[11], f[12])
	}
	return utime + stime, nil
}

// redisCPU is the CPU time Redis has used (its main process's user +
// system), summed over the masters of a cluster.
func redisCPU(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	var total time.Duration
	err := eachInfo(ctx, rdb, "cpu", func(info string) {
		total += parseCPUInfo(info)
	})
	return total, err
}

// parseCPUInfo reads used_cpu_sys and used_cpu_user (seconds) of INFO cpu.
func parseCPUInfo(info string) time.Duration {
	var secs float64
	for name, v := range infoFields(info) {
		if name != "used_cpu_sys" && name != "used_cpu_user" {
			continue
		}
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			secs += s
		}
	}
	return time.Duration(math.Round(secs*1e6)) * time.Microsecond // INFO's precision
}
