package servertest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"jobwait/store/redistest"
)

var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "servertest")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "jobwait")
	return path, goBuild(path)
})

// Binary is the path of a jobwait binary built from this checkout once per test process.
func Binary(tb testing.TB) string {
	tb.Helper()
	redistest.SkipIfShort(tb)
	path, err := built()
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// BinaryWith builds jobwait from this checkout into the test's temporary
// directory with go build's flags (such as -ldflags "-X main.revision=...").
func BinaryWith(tb testing.TB, flags ...string) string {
	tb.Helper()
	redistest.SkipIfShort(tb)
	path := filepath.Join(tb.TempDir(), "jobwait")
	if err := goBuild(path, flags...); err != nil {
		tb.Fatal(err)
	}
	return path
}

// goBuild builds cmd/jobwait into out (a test runs in its package's
// directory: inside the module).
func goBuild(out string, flags ...string) error {
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, "jobwait/cmd/jobwait")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v ./cmd/jobwait: %v\n%s", flags, err, b)
	}
	return nil
}

// Process is a running jobwait: Signal and Wait are its Proc's.
type Process struct {
	Addr string // 127.0.0.1:port
	*redistest.Proc
	log *Buffer
}

// Start runs jobwait with env (KEY=VALUE; JOBWAIT_ADDR is set here) and
// waits until /healthz answers. It is stopped when the test ends.
func Start(tb testing.TB, env ...string) *Process {
	tb.Helper()
	return StartUnder(tb, nil, env...)
}

// StartUnder is Start with jobwait run by a wrapper that execs it (prlimit
// --nofile=256:256 --), its settings in force from jobwait's first instruction.
func StartUnder(tb testing.TB, wrapper []string, env ...string) *Process {
	tb.Helper()
	return start(tb, "", append(slices.Clone(wrapper), Binary(tb)), env...)
}

// StartBinary is Start with the jobwait binary at bin (see BinaryWith).
func StartBinary(tb testing.TB, bin string, env ...string) *Process {
	tb.Helper()
	return start(tb, "", []string{bin}, env...)
}

// StartAt is Start on a given address: a replica restarted where its
// predecessor listened (behind a proxy that knows only that address).
func StartAt(tb testing.TB, addr string, env ...string) *Process {
	tb.Helper()
	return start(tb, addr, []string{Binary(tb)}, env...)
}

// start runs argv (jobwait, perhaps behind a wrapper) on addr, or on a free loopback port.
func start(tb testing.TB, addr string, argv []string, env ...string) *Process {
	tb.Helper()
	if addr == "" {
		port, err := redistest.FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	p := &Process{Addr: addr, log: &Buffer{}}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "JOBWAIT_ADDR="+addr), env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	var err error
	if p.Proc, err = redistest.StartProc(cmd); err != nil {
		tb.Fatal(err)
	}
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
	return p.Poll(within, func() error {
		resp, err := c.Get(p.URL() + path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		return nil
	})
}

// Kill stops the process (SIGTERM, then SIGKILL after five seconds).
func (p *Process) Kill() { p.Stop(syscall.SIGTERM, 5*time.Second) }

// Log returns what the process has written so far.
func (p *Process) Log() string { return p.log.String() }

// Buffer collects what any number of writers write at once: a process's output, a log.
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
