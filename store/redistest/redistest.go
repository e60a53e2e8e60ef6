package redistest

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// aptPackages are what installs each binary the package runs.
var aptPackages = map[string]string{
	"redis-server":   "redis-server",
	"redis-cli":      "redis-server redis-tools",
	"redis-sentinel": "redis-sentinel",
}

// lookPath fails unless bin is in PATH, saying how to install it.
func lookPath(bin string) error {
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s not found in PATH: install it with `apt-get install -y %s` "+
			"(or run `make test`, which does)", bin, aptPackages[bin])
	}
	return nil
}

// SkipIfShort skips an integration test under -short, the fast tier: every
// starter of a real part (redis-server, jobwait, nginx, Chromium, npm) calls
// it, so that `go test -short ./...` runs on a machine with none of them.
// Without -short a missing part fails the test with how to install it.
func SkipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("an integration test (real parts): skipped under -short")
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

// Server is one redis-server (or redis-sentinel) process on a loopback port.
type Server struct {
	port     int
	tlsPort  int // 0: no TLS
	password string
	dir      string
	argv     []string // the binary, and redis-sentinel's config file
	args     []string // after the kit's own, so that they win

	mu   sync.Mutex
	proc *Proc // nil once stopped
}

// node says how to start a Server.
type node struct {
	argv        []string // nil: redis-server
	tls         *TLS     // also speak TLS, on a port of its own
	authClients bool     // TLS requires client certificates
	args        func() ([]string, error)
}

// start starts n in dir. A port can be taken between FreePort and the
// server's bind (by a parallel test, or as another connection's local
// port), so a server that could not bind is launched again, on fresh
// ports and with fresh args, which may name fresh ports of their own.
func (n node) start(dir string) (*Server, error) {
	if n.argv == nil {
		n.argv = []string{"redis-server"}
	}
	if err := lookPath(n.argv[0]); err != nil {
		return nil, err
	}
	for try := 1; ; try++ {
		s := &Server{dir: dir, argv: n.argv}
		var err error
		if s.port, err = FreePort(); err != nil {
			return nil, err
		}
		if n.tls != nil {
			if s.tlsPort, err = FreePort(); err != nil {
				return nil, err
			}
			s.args = n.tls.ServerArgs(s.tlsPort, n.authClients)
		}
		if n.args != nil {
			a, err := n.args()
			if err != nil {
				return nil, err
			}
			s.args = append(s.args, a...)
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
		s.Stop()
		if try == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

// startFor starts n for one test, stopped when it ends.
func (n node) startFor(tb testing.TB) *Server {
	tb.Helper()
	SkipIfShort(tb)
	s, err := n.start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Start starts a private redis-server for one test, stopped when it ends,
// with extra args for redis-server (e.g. "--rename-command", "CONFIG", "").
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return node{args: fixed(args...)}.startFor(tb)
}

// fixed is node.args for args that name no port.
func fixed(args ...string) func() ([]string, error) {
	return func() ([]string, error) { return args, nil }
}

func (s *Server) launch() error {
	log := filepath.Join(s.dir, "redis.log")
	args := append(slices.Clone(s.argv[1:]),
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", log,
		"--enable-debug-command", "local")
	p, err := StartProc(exec.Command(s.argv[0], append(args, s.args...)...))
	if err != nil {
		return fmt.Errorf("start %s: %w", s.argv[0], err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	err = p.Poll(10*time.Second, func() error {
		return s.query(time.Second, func(ctx context.Context, c *redis.Client) error {
			err := c.Ping(ctx).Err()
			if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") { // answered: one with requirepass
				return nil
			}
			return err
		})
	})
	if err != nil {
		text, _ := os.ReadFile(log)
		return fmt.Errorf("%s on %s not ready: %w\n%s", s.argv[0], s.Addr(), err, text)
	}
	return nil
}

// query runs fn with a client of s, for timeout at most.
func (s *Server) query(timeout time.Duration, fn func(context.Context, *redis.Client) error) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, Password: s.password})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fn(ctx, c)
}

func loopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// Addr is the server's host:port.
func (s *Server) Addr() string { return loopback(s.port) }

func (s *Server) tlsAddr() string { return loopback(s.tlsPort) }

// peerPort is the port that other nodes and the sentinels reach s on: its
// TLS port, if it has one.
func (s *Server) peerPort() int { return cmp.Or(s.tlsPort, s.port) }

func (s *Server) peerAddr() string { return loopback(s.peerPort()) }

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

// running returns the server's process, nil when it is stopped.
func (s *Server) running() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Stop kills the server and waits for it to exit. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop(os.Kill, 0)
	}
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
			shared.srv, shared.err = node{}.start(shared.dir)
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

// Proc is a process a kit started, and the one goroutine that waits for it.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been waited for
	err  error         // cmd.Wait's, set before done is closed
}

// StartProc starts cmd.
func StartProc(cmd *exec.Cmd) (*Proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit, at most within; it returns the exit
// error, or context.DeadlineExceeded if it is still running.
func (p *Proc) Wait(within time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		return context.DeadlineExceeded
	}
}

// Stop sends sig, kills the process if it has not exited within grace,
// and waits for it to exit.
func (p *Proc) Stop(sig os.Signal, grace time.Duration) {
	_ = p.Signal(sig)
	if p.Wait(grace) == context.DeadlineExceeded {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Poll calls ready every 20 ms until it returns nil; after within, or once
// the process has exited, it returns ready's last error.
func (p *Proc) Poll(within time.Duration, ready func() error) error {
	return poll(within, 20*time.Millisecond, p, ready)
}

// waitFor polls cond every 50 ms until it returns nil, failing tb after
// clusterWait with its last error.
func waitFor(tb testing.TB, what string, cond func() error) {
	tb.Helper()
	if err := poll(clusterWait, 50*time.Millisecond, nil, cond); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// poll is Proc.Poll every interval, p nil when there is no process to watch.
func poll(within, every time.Duration, p *Proc, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("exited (%v): %w", p.err, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", within, err)
		}
		time.Sleep(every)
	}
}
