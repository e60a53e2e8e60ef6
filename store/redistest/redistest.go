// Package redistest starts private redis-server processes for tests: one per
// package run (Shared) or one per test (Start) when a test restarts, stops or
// reconfigures its server. Tests always talk to a real Redis.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// InstallHint is what a test says when redis-server is missing.
const InstallHint = "redis-server not found in PATH: install it with `apt-get install -y redis-server` (or run `make test`, which does)"

// Server is one redis-server process on a loopback port.
type Server struct {
	port int
	dir  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited and been waited for
}

// SkipIfShort skips an integration test under -short, the fast tier: every
// starter of a real part (redis-server, the jobwait binary, nginx,
// Chromium, npm) calls it, so that `go test -short ./...` runs on a
// machine with none of them. Without -short a missing part fails the test
// with how to install it.
func SkipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("an integration test (real parts): skipped under -short")
	}
}

// Start starts a private redis-server for one test and stops it when the
// test ends. Extra args are passed to redis-server (e.g. "--rename-command",
// "CONFIG", "").
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	SkipIfShort(tb)
	s, err := start(tb.TempDir(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func start(dir string, args ...string) (*Server, error) {
	return startWith(dir, func() ([]string, error) { return args, nil })
}

// launchTries is how many times a server is launched on fresh ports when
// one it was given was taken in the meantime (see FreePort).
const launchTries = 3

// startWith starts a redis-server with the args args returns, on a port of
// its own. A port can be taken between FreePort and the server's bind (by
// a parallel test, or as another connection's local port), so a server
// that could not bind is launched again, on a fresh port and with fresh
// args, which may name fresh ports of their own.
func startWith(dir string, args func() ([]string, error)) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("%s", InstallHint)
	}
	for try := 1; ; try++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		a, err := args()
		if err != nil {
			return nil, err
		}
		s := &Server{port: port, dir: dir, args: a}
		err = s.launch()
		if err == nil {
			return s, nil
		}
		s.Stop()
		if try == launchTries || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) launch() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--enable-debug-command", "local",
	}, s.args...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return s.waitReady(exited)
}

// waitReady waits until the server answers, for 10 s at most, or until it
// has exited (it could not bind its port, say).
func (s *Server) waitReady(exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil || strings.HasPrefix(err.Error(), "NOAUTH") { // answered: one with requirepass
			return nil
		}
		gone := false
		select {
		case <-exited:
			gone = true
		default:
		}
		if gone || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on %s not ready (exited: %v): %v\n%s", s.Addr(), gone, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// URL is the server's redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a client for database 0, closed when the test ends. It
// is quiet: it sends nothing Redis 7.0 answers with an error (see Quiet),
// so that a test can count the errors of what it tests.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true, MaintNotificationsConfig: Quiet()})
	tb.Cleanup(func() { c.Close() })
	return c
}

// Quiet is a client's maintenance notifications setting that sends no
// CLIENT MAINT_NOTIFICATIONS, which only Redis Enterprise knows; with
// DisableIdentity (no CLIENT SETINFO, unknown before Redis 7.2) a client
// leaves no error in Redis's INFO errorstats.
func Quiet() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// Stop kills the server and waits for it to exit. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart stops the server and starts it again on the same port, empty.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.Resume(tb)
}

// Resume starts a stopped server again on the same port.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.launch(); err != nil {
		tb.Fatal(err)
	}
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
	dir  string
}

// Shared returns the package run's redis-server, started on first use and
// stopped by Main. Tests sharing it use unique job ids.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	SkipIfShort(tb)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "redistest")
		if shared.err == nil {
			shared.srv, shared.err = start(shared.dir)
		}
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs a package's tests and then stops the shared server; call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}
