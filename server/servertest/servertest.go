// Package servertest is the test kit of jobwait's HTTP surface, driven
// from outside as users and operators drive it:
//
//   - Start builds the real jobwait binary (cmd/jobwait) once per test
//     process and runs it on a free loopback port: over HTTP, with
//     signals, against a real Redis. Under -short it skips the test (see
//     redistest.SkipIfShort). BinaryWith builds one with go build's flags
//     (-ldflags), StartBinary runs it.
//   - Run runs a binary with arguments to its exit (-h, -version, a bad
//     flag): what it wrote to stdout and stderr, and its exit status.
//   - Get and Conn send a request by hand and read its answer, an event
//     stream with package sse's reader, every read bounded by a deadline;
//     Conn.Again sends the next one on the kept-alive connection.
//   - From is a client address of its own on loopback (127.0.0.2, ...),
//     to play several clients: Dial, Get and an HTTP Client from it.
//   - ReadMetrics and Metric read /metrics with Prometheus's own parser.
//
// The producer of jobs is storetest's; Eventually and Group are
// streamtest's. Nothing here is imported by jobwait's own packages.
package servertest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"jobwait/store/redistest"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a jobwait binary built from this checkout,
// once per test process.
func Binary(tb testing.TB) string {
	tb.Helper()
	redistest.SkipIfShort(tb)
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "servertest")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "jobwait")
		build.err = goBuild(build.path)
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// BinaryWith builds jobwait from this checkout with go build's flags
// (such as -ldflags "-X main.revision=..."), into the test's temporary
// directory.
func BinaryWith(tb testing.TB, flags ...string) string {
	tb.Helper()
	redistest.SkipIfShort(tb)
	path := filepath.Join(tb.TempDir(), "jobwait")
	if err := goBuild(path, flags...); err != nil {
		tb.Fatal(err)
	}
	return path
}

// goBuild builds cmd/jobwait into out.
func goBuild(out string, flags ...string) error {
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, ".")...)
	cmd.Dir = filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(file))), "cmd", "jobwait")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v ./cmd/jobwait: %v\n%s", flags, err, b)
	}
	return nil
}

// Process is a running jobwait.
type Process struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	log  *Buffer
	done chan struct{}
	err  error
}

// Start runs jobwait with env (KEY=VALUE; JOBWAIT_ADDR is set here) and
// waits until /healthz answers. It is stopped when the test ends.
func Start(tb testing.TB, env ...string) *Process {
	tb.Helper()
	return StartUnder(tb, nil, env...)
}

// StartUnder is Start with jobwait run by a wrapper command that execs it,
// such as prlimit --nofile=256:256 --, so that the wrapper's settings are
// in force from jobwait's first instruction.
func StartUnder(tb testing.TB, wrapper []string, env ...string) *Process {
	tb.Helper()
	return startFree(tb, append(slices.Clone(wrapper), Binary(tb)), env...)
}

// StartBinary is Start with the jobwait binary at bin (see BinaryWith).
func StartBinary(tb testing.TB, bin string, env ...string) *Process {
	tb.Helper()
	return startFree(tb, []string{bin}, env...)
}

// startFree runs argv on a free loopback port.
func startFree(tb testing.TB, argv []string, env ...string) *Process {
	tb.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return startAt(tb, "127.0.0.1:"+strconv.Itoa(port), argv, env...)
}

// StartAt is Start on a given address: a replica restarted where its
// predecessor listened (behind a proxy that knows only that address).
func StartAt(tb testing.TB, addr string, env ...string) *Process {
	tb.Helper()
	return startAt(tb, addr, []string{Binary(tb)}, env...)
}

// startAt runs argv (a jobwait binary, perhaps behind a wrapper) on addr.
func startAt(tb testing.TB, addr string, argv []string, env ...string) *Process {
	tb.Helper()
	p := &Process{Addr: addr, log: &Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(append(os.Environ(), "JOBWAIT_ADDR="+p.Addr), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("jobwait log:\n%s", p.Log())
		}
	})
	if err := p.waitFor("/healthz", 10*time.Second); err != nil {
		tb.Fatalf("jobwait did not start: %v\n%s", err, p.Log())
	}
	return p
}

// URL is the base URL, e.g. http://127.0.0.1:1234.
func (p *Process) URL() string { return "http://" + p.Addr }

// WaitReady waits until /readyz answers 200.
func (p *Process) WaitReady(tb testing.TB, within time.Duration) {
	tb.Helper()
	if err := p.waitFor("/readyz", within); err != nil {
		tb.Fatalf("jobwait not ready: %v\n%s", err, p.Log())
	}
}

func (p *Process) waitFor(path string, within time.Duration) error {
	c := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get(p.URL() + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", path, resp.Status)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit, at most within; it returns the exit
// error, or context.DeadlineExceeded if it is still running.
func (p *Process) Wait(within time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		return context.DeadlineExceeded
	}
}

// Kill stops the process (SIGTERM, then SIGKILL after five seconds).
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.Wait(5*time.Second) != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Log returns what the process has written so far.
func (p *Process) Log() string { return p.log.String() }

// Buffer collects what is written to it, for any number of writers at
// once: a process's output, a slog handler's lines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
