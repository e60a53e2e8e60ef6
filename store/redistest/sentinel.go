package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the sentinels of StartSentinel monitor.
const MasterName = "jobs"

// Sentinel is a private Sentinel deployment on loopback ports, stopped when
// the test ends: one primary, two replicas and three sentinels (quorum two)
// that fail a primary over about a second after it stops answering.
type Sentinel struct {
	Data      []*Server // the data nodes; Data[0] is the first primary
	Sentinels []*Server // redis-sentinel processes
	pw        SentinelPasswords
	tls       *TLS
}

// SentinelPasswords, when set, protect the data nodes (requirepass) and
// the sentinels (requirepass).
type SentinelPasswords struct {
	Data, Sentinel string
}

// StartSentinel starts the data nodes and the sentinels, with passwords if pw
// sets them, and waits until the deployment is healthy (WaitHealthy).
func StartSentinel(tb testing.TB, pw SentinelPasswords) *Sentinel {
	tb.Helper()
	return startSentinel(tb, pw, nil)
}

// StartSentinelTLS is StartSentinel with TLS on a second port of every node
// (replication and the sentinels' own connections too); TLSURL is its
// rediss:// URL. The plain ports stay open for the tests' own clients.
func StartSentinelTLS(tb testing.TB, t *TLS) *Sentinel {
	tb.Helper()
	return startSentinel(tb, SentinelPasswords{}, t)
}

func startSentinel(tb testing.TB, pw SentinelPasswords, t *TLS) *Sentinel {
	tb.Helper()
	SkipIfShort(tb)
	if err := lookPath("redis-sentinel"); err != nil {
		tb.Fatal(err)
	}
	sn := &Sentinel{pw: pw, tls: t}
	var data, sentinel []string // the data nodes' args, the sentinels'
	if t != nil {
		data = append(data, "--tls-replication", "yes")
		sentinel = append(sentinel, "--tls-replication", "yes")
	}
	if pw.Data != "" {
		data = append(data, "--requirepass", pw.Data, "--masterauth", pw.Data)
	}
	if pw.Sentinel != "" {
		sentinel = append(sentinel, "--requirepass", pw.Sentinel)
	}
	// Replicas sync at once, not after the default 5 s wait for more.
	data = append(data, "--repl-diskless-sync-delay", "0")
	for i := range 3 {
		if i == 1 {
			data = append(data, "--replicaof", "127.0.0.1", strconv.Itoa(sn.Data[0].peerPort()))
		}
		s := node{tls: t, args: fixed(data...)}.startFor(tb)
		s.password = pw.Data
		sn.Data = append(sn.Data, s)
	}
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", MasterName, sn.Data[0].peerPort()) +
		"sentinel down-after-milliseconds " + MasterName + " 1000\n" +
		"sentinel failover-timeout " + MasterName + " 3000\n" +
		"sentinel parallel-syncs " + MasterName + " 2\n"
	if pw.Data != "" {
		conf += "sentinel auth-pass " + MasterName + " " + pw.Data + "\n"
	}
	for range 3 {
		path := filepath.Join(tb.TempDir(), "sentinel.conf") // sentinel rewrites it
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		n := node{argv: []string{"redis-sentinel", path}, tls: t, args: fixed(sentinel...)}
		sn.Sentinels = append(sn.Sentinels, n.startFor(tb))
	}
	sn.WaitHealthy(tb)
	return sn
}

// URL is the go-redis failover URL of the deployment, database 0: the
// first sentinel as host, the others as ?addr=; the sentinels' password as
// the URL's, the data nodes' as ?password=.
func (sn *Sentinel) URL() string { return sn.url("redis://", (*Server).Addr) }

// TLSURL is URL's rediss:// form, on the sentinels' TLS ports
// (StartSentinelTLS).
func (sn *Sentinel) TLSURL() string { return sn.url("rediss://", (*Server).tlsAddr) }

func (sn *Sentinel) url(scheme string, addr func(*Server) string) string {
	auth := ""
	if sn.pw.Sentinel != "" {
		auth = ":" + sn.pw.Sentinel + "@"
	}
	u := scheme + auth + addr(sn.Sentinels[0]) + "/0?master_name=" + MasterName
	if sn.pw.Data != "" {
		u += "&password=" + sn.pw.Data
	}
	for _, s := range sn.Sentinels[1:] {
		u += "&addr=" + addr(s)
	}
	return u
}

// Client returns a Sentinel-aware client (the producer's), closed when the
// test ends.
func (sn *Sentinel) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	opts := &redis.FailoverOptions{MasterName: MasterName, Password: sn.pw.Data,
		SentinelPassword: sn.pw.Sentinel, DisableIdentity: true}
	for _, s := range sn.Sentinels { // under TLS, the sentinels name the data nodes' TLS ports
		opts.SentinelAddrs = append(opts.SentinelAddrs, s.peerAddr())
	}
	if sn.tls != nil {
		opts.TLSConfig = sn.tls.ClientConfig(tb)
	}
	c := redis.NewFailoverClient(opts)
	tb.Cleanup(func() { c.Close() })
	return c
}

// ask runs fn with a client of each of sentinels in turn, for 2 s at most
// each, until it fails.
func (sn *Sentinel) ask(sentinels []*Server, fn func(context.Context, *redis.SentinelClient) error) error {
	for i, s := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, Password: sn.pw.Sentinel})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := fn(ctx, sc)
		cancel()
		sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %d: %w", i, err)
		}
	}
	return nil
}

// primary is the data node every sentinel names the primary; an error when
// they disagree, one does not answer, or it is no running data node.
func (sn *Sentinel) primary() (*Server, error) {
	seen := ""
	err := sn.ask(sn.Sentinels, func(ctx context.Context, sc *redis.SentinelClient) error {
		a, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		if err != nil {
			return err
		}
		addr := net.JoinHostPort(a[0], a[1])
		if seen != "" && addr != seen {
			return fmt.Errorf("sentinels disagree: %s and %s", seen, addr)
		}
		seen = addr
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range sn.Data {
		if s.peerAddr() == seen && s.running() != nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("primary %s is no running data node", seen)
}

// Primary returns the running data node every sentinel names the primary.
func (sn *Sentinel) Primary(tb testing.TB) *Server {
	tb.Helper()
	return sn.WaitPrimaryNot(tb, nil)
}

// WaitPrimaryNot waits until every sentinel names a running primary other
// than old.
func (sn *Sentinel) WaitPrimaryNot(tb testing.TB, old *Server) *Server {
	tb.Helper()
	var p *Server
	waitFor(tb, "the sentinels' primary", func() (err error) {
		if p, err = sn.primary(); err == nil && p == old {
			err = fmt.Errorf("%s is still the primary", p.Addr())
		}
		return err
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
	primary, err := sn.primary()
	if err != nil {
		return err
	}
	running := 0
	for _, s := range sn.Data {
		if s.running() != nil {
			running++
		}
	}
	err = primary.query(2*time.Second, func(ctx context.Context, rc *redis.Client) error {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && !strings.Contains(info, "role:master") {
			err = fmt.Errorf("%s is not a master yet", primary.Addr())
		}
		if n := strings.Count(info, ",state=online,"); err == nil && n != running-1 {
			err = fmt.Errorf("%s has %d online replicas; want %d", primary.Addr(), n, running-1)
		}
		return err
	})
	if err != nil {
		return err
	}
	return sn.ask(sn.Sentinels, func(ctx context.Context, sc *redis.SentinelClient) error {
		m, err := sc.Master(ctx, MasterName).Result()
		if err != nil {
			return err
		}
		if m["num-other-sentinels"] != "2" {
			return fmt.Errorf("knows %s other sentinels", m["num-other-sentinels"])
		}
		if m["num-slaves"] != strconv.Itoa(len(sn.Data)-1) || m["flags"] != "master" {
			return fmt.Errorf("sees the primary as %q with %s replicas", m["flags"], m["num-slaves"])
		}
		return nil
	})
}

// Failover asks a sentinel to fail the primary over (SENTINEL FAILOVER)
// and returns at once; the old primary becomes a replica of the new one.
func (sn *Sentinel) Failover(tb testing.TB) {
	tb.Helper()
	err := sn.ask(sn.Sentinels[:1], func(ctx context.Context, sc *redis.SentinelClient) error {
		return sc.Failover(ctx, MasterName).Err()
	})
	if err != nil {
		tb.Fatalf("SENTINEL FAILOVER: %v", err)
	}
}

// Freeze stops s (SIGSTOP) without closing its connections: to its
// clients and to the sentinels it looks like a node cut off by the
// network. Thaw resumes it.
func (s *Server) Freeze(tb testing.TB) { s.signal(tb, syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw(tb testing.TB) { s.signal(tb, syscall.SIGCONT) }

func (s *Server) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	p := s.running()
	if p == nil {
		tb.Fatalf("%s is not running", s.Addr())
	}
	if err := p.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}
