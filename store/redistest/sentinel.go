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
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelHint is what a test says when redis-sentinel is missing.
const SentinelHint = "redis-sentinel not found in PATH: install it with `apt-get install -y redis-sentinel` (or run `make test`, which does)"

// MasterName is the name the sentinels of StartSentinel monitor.
const MasterName = "jobs"

// Sentinel is a private Sentinel deployment on loopback ports: one primary,
// two replicas and three sentinels (quorum two) that fail a primary over
// about a second after it stops answering. Everything is stopped when the
// test ends.
type Sentinel struct {
	Data      []*Server // the data nodes; Data[0] is the first primary
	Sentinels []*SentinelServer
	Passwords SentinelPasswords
	TLS       *TLS // set by StartSentinelTLS

	tlsPorts map[*Server]int // each data node's TLS port (StartSentinelTLS)
}

// SentinelPasswords, when set, protect the data nodes (requirepass) and
// the sentinels (requirepass in sentinel.conf).
type SentinelPasswords struct {
	Data, Sentinel string
}

// SentinelServer is one redis-sentinel process.
type SentinelServer struct {
	port    int
	tlsPort int // StartSentinelTLS only
	dir     string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Addr is the sentinel's host:port.
func (s *SentinelServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Stop kills the sentinel and waits for it to exit.
func (s *SentinelServer) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// StartSentinel starts the data nodes and the sentinels, with passwords if
// pw sets them, and waits until the deployment is healthy (see
// WaitHealthy).
func StartSentinel(tb testing.TB, pw SentinelPasswords) *Sentinel {
	tb.Helper()
	return startSentinels(tb, pw, nil)
}

// StartSentinelTLS starts the deployment of StartSentinel with TLS on a
// second port of every data node and sentinel, replication and the
// sentinels' own connections over TLS too; TLSURL is its rediss:// URL. The
// plain ports stay open for the tests' own clients.
func StartSentinelTLS(tb testing.TB, t *TLS) *Sentinel {
	tb.Helper()
	return startSentinels(tb, SentinelPasswords{}, t)
}

func startSentinels(tb testing.TB, pw SentinelPasswords, t *TLS) *Sentinel {
	tb.Helper()
	SkipIfShort(tb)
	if _, err := exec.LookPath("redis-sentinel"); err != nil {
		tb.Fatal(SentinelHint)
	}
	sn := &Sentinel{Passwords: pw, TLS: t, tlsPorts: map[*Server]int{}}
	// Replicas sync at once, not after the default 5 s wait for more.
	common := []string{"--repl-diskless-sync-delay", "0"}
	var extra []string
	startData := func(args ...string) *Server {
		tp := 0
		s, err := startWith(tb.TempDir(), func() ([]string, error) {
			a := append(args[:len(args):len(args)], common...)
			if t == nil {
				return a, nil
			}
			var err error
			if tp, err = FreePort(); err != nil {
				return nil, err
			}
			return append(append(a, t.ServerArgs(tp, false)...), "--tls-replication", "yes"), nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(s.Stop)
		sn.tlsPorts[s] = tp
		sn.Data = append(sn.Data, s)
		return s
	}
	if t != nil {
		extra = append(extra, "tls-cert-file "+t.ServerCert, "tls-key-file "+t.ServerKey,
			"tls-ca-cert-file "+t.CA, "tls-auth-clients no", "tls-replication yes")
	}
	if pw.Data != "" {
		common = append(common, "--requirepass", pw.Data, "--masterauth", pw.Data)
		extra = append(extra, "sentinel auth-pass "+MasterName+" "+pw.Data)
	}
	if pw.Sentinel != "" {
		extra = append(extra, "requirepass "+pw.Sentinel)
	}
	primary := startData()
	for range 2 {
		startData("--replicaof", "127.0.0.1", strconv.Itoa(sn.port(primary)))
	}
	for range 3 {
		s, err := startSentinel(tb.TempDir(), sn.port(primary), t != nil, extra)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(s.Stop)
		sn.Sentinels = append(sn.Sentinels, s)
	}
	sn.WaitHealthy(tb)
	return sn
}

func startSentinel(dir string, primaryPort int, useTLS bool, extra []string) (*SentinelServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	tlsPort := 0
	if useTLS {
		if tlsPort, err = FreePort(); err != nil {
			return nil, err
		}
		extra = append(extra, "tls-port "+strconv.Itoa(tlsPort))
	}
	conf := strings.Join(append([]string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", MasterName, primaryPort),
		"sentinel down-after-milliseconds " + MasterName + " 1000",
		"sentinel failover-timeout " + MasterName + " 3000",
		"sentinel parallel-syncs " + MasterName + " 2",
	}, extra...), "\n") + "\n"
	path := filepath.Join(dir, "sentinel.conf") // sentinel rewrites it
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-sentinel", path)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-sentinel: %w", err)
	}
	s := &SentinelServer{port: port, tlsPort: tlsPort, dir: dir, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "sentinel.log"))
			return nil, fmt.Errorf("redis-sentinel on %s not up: %v\n%s", s.Addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// port is the port the sentinels know data node s by: its TLS port under
// TLS.
func (sn *Sentinel) port(s *Server) int {
	if tp := sn.tlsPorts[s]; tp != 0 {
		return tp
	}
	return s.Port()
}

// addrOf is the address the sentinels know data node s by.
func (sn *Sentinel) addrOf(s *Server) string { return "127.0.0.1:" + strconv.Itoa(sn.port(s)) }

// TLSURL is URL's rediss:// form, on the sentinels' TLS ports
// (StartSentinelTLS).
func (sn *Sentinel) TLSURL() string {
	a := func(s *SentinelServer) string { return "127.0.0.1:" + strconv.Itoa(s.tlsPort) }
	u := "rediss://" + a(sn.Sentinels[0]) + "/0?master_name=" + MasterName
	for _, s := range sn.Sentinels[1:] {
		u += "&addr=" + a(s)
	}
	return u
}

// URL is the go-redis failover URL of the deployment, database 0: the
// first sentinel as host, the others as ?addr=; the sentinels' password as
// the URL's, the data nodes' as ?password=.
func (sn *Sentinel) URL() string {
	auth := ""
	if sn.Passwords.Sentinel != "" {
		auth = ":" + sn.Passwords.Sentinel + "@"
	}
	u := "redis://" + auth + sn.Sentinels[0].Addr() + "/0?master_name=" + MasterName
	if sn.Passwords.Data != "" {
		u += "&password=" + sn.Passwords.Data
	}
	for _, s := range sn.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

// Client returns a Sentinel-aware client (the producer's), closed when the
// test ends.
func (sn *Sentinel) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	addrs := make([]string, len(sn.Sentinels))
	for i, s := range sn.Sentinels {
		addrs[i] = s.Addr()
	}
	opts := &redis.FailoverOptions{MasterName: MasterName, SentinelAddrs: addrs,
		Password: sn.Passwords.Data, SentinelPassword: sn.Passwords.Sentinel, DisableIdentity: true}
	if sn.TLS != nil { // the sentinels name the data nodes' TLS ports
		for i, s := range sn.Sentinels {
			addrs[i] = "127.0.0.1:" + strconv.Itoa(s.tlsPort)
		}
		opts.TLSConfig = sn.TLS.ClientConfig(tb)
	}
	c := redis.NewFailoverClient(opts)
	tb.Cleanup(func() { c.Close() })
	return c
}

// sentinel returns a client of the i-th sentinel; the caller closes it.
func (sn *Sentinel) sentinel(i int) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: sn.Sentinels[i].Addr(), MaxRetries: -1, Password: sn.Passwords.Sentinel})
}

// primaryAddr is the primary's address as every sentinel sees it; an error
// when they disagree or one does not answer.
func (sn *Sentinel) primaryAddr() (string, error) {
	seen := ""
	for i := range sn.Sentinels {
		sc := sn.sentinel(i)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		sc.Close()
		if err != nil {
			return "", err
		}
		addr := net.JoinHostPort(a[0], a[1])
		if seen != "" && addr != seen {
			return "", fmt.Errorf("sentinels disagree: %s and %s", seen, addr)
		}
		seen = addr
	}
	return seen, nil
}

// Primary returns the data node every sentinel names the primary.
func (sn *Sentinel) Primary(tb testing.TB) *Server {
	tb.Helper()
	var p *Server
	waitFor(tb, "sentinels agree on a primary", func() error {
		addr, err := sn.primaryAddr()
		if err != nil {
			return err
		}
		for _, s := range sn.Data {
			if sn.addrOf(s) == addr {
				p = s
				return nil
			}
		}
		return fmt.Errorf("primary %s is no data node", addr)
	})
	return p
}

// WaitHealthy waits until every sentinel names the same running primary,
// that primary says it is one and has every other running data node as a
// connected, synced replica, and every sentinel knows the other two and
// both replicas: a primary killed then is failed over.
func (sn *Sentinel) WaitHealthy(tb testing.TB) {
	tb.Helper()
	waitFor(tb, "sentinel deployment healthy", sn.healthy)
}

func (sn *Sentinel) healthy() error {
	addr, err := sn.primaryAddr()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var primary *Server
	running := 0
	for _, s := range sn.Data {
		if s.running() {
			running++
		}
		if sn.addrOf(s) == addr {
			primary = s
		}
	}
	if primary == nil || !primary.running() {
		return fmt.Errorf("primary %s is not running", addr)
	}
	rc := redis.NewClient(&redis.Options{Addr: primary.Addr(), MaxRetries: -1, Password: sn.Passwords.Data})
	defer rc.Close()
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "role:master") {
		return fmt.Errorf("%s is not a master yet", addr)
	}
	if n := strings.Count(info, ",state=online,"); n != running-1 {
		return fmt.Errorf("%s has %d online replicas; want %d", addr, n, running-1)
	}
	for i := range sn.Sentinels {
		sc := sn.sentinel(i)
		m, err := sc.Master(ctx, MasterName).Result()
		sc.Close()
		if err != nil {
			return err
		}
		if m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %d knows %s other sentinels", i, m["num-other-sentinels"])
		}
		if m["num-slaves"] != strconv.Itoa(len(sn.Data)-1) || strings.Contains(m["flags"], "down") || m["flags"] != "master" {
			return fmt.Errorf("sentinel %d sees the primary as %q with %s replicas", i, m["flags"], m["num-slaves"])
		}
	}
	return nil
}

// Failover asks a sentinel to fail the primary over (SENTINEL FAILOVER)
// and returns at once; the old primary becomes a replica of the new one.
func (sn *Sentinel) Failover(tb testing.TB) {
	tb.Helper()
	sc := sn.sentinel(0)
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		tb.Fatalf("SENTINEL FAILOVER: %v", err)
	}
}

// WaitPrimaryNot waits until every sentinel names a running primary other
// than old.
func (sn *Sentinel) WaitPrimaryNot(tb testing.TB, old *Server) *Server {
	tb.Helper()
	var p *Server
	waitFor(tb, "a new primary", func() error {
		addr, err := sn.primaryAddr()
		if err != nil {
			return err
		}
		if addr == sn.addrOf(old) {
			return fmt.Errorf("%s is still the primary", addr)
		}
		for _, s := range sn.Data {
			if sn.addrOf(s) == addr && s.running() {
				p = s
				return nil
			}
		}
		return fmt.Errorf("primary %s is not running", addr)
	})
	return p
}

// Freeze stops s (SIGSTOP) without closing its connections: to its
// clients and to the sentinels it looks like a node cut off by the
// network. Thaw resumes it.
func (s *Server) Freeze(tb testing.TB) { s.signal(tb, syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw(tb testing.TB) { s.signal(tb, syscall.SIGCONT) }

func (s *Server) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		tb.Fatalf("%s is not running", s.Addr())
	}
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}
