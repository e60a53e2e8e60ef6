package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux
// whatever the kernel's own tick.
const userHZ = 100

// ProcCPU is the user + system time the processes have used (-cpu-pids:
// the server's; this process's own).
func ProcCPU(pids []int) (time.Duration, error) {
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
		return 0, errors.New("no command name")
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

// RSS reads a process's resident set size in bytes from /proc/{pid}/status
// ("VmRSS:   10240 kB").
func RSS(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("RSS: %w", err)
	}
	for name, v := range Fields(string(data)) {
		if name == "VmRSS" {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("RSS: %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("RSS: no VmRSS in /proc/%d/status", pid)
}
