package server

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultConnReserve is the part of the file limit (RLIMIT_NOFILE) that the
// default connection cap leaves to everything that is not a client's
// connection: the Redis pool (64 connections per node, unless REDIS_URL's
// pool_size says more), the keyspace subscriptions (one per master), the
// listener and its spare descriptor, stdin, stdout and stderr, the poller,
// the pprof listener, the files the metrics collector reads under /proc,
// and DNS lookups. A cluster of many nodes needs more: set the cap.
const DefaultConnReserve = 128

// Backoff of a failing accept, as net/http's: 5 ms, doubling up to 1 s.
const (
	acceptDelayMin = 5 * time.Millisecond
	acceptDelayMax = time.Second
)

// episodeQuiet is how long accepting must go without a refusal or an error
// before a refusal episode is logged as over: connections that come and go
// at the cap make one episode, not one per connection, and so does a
// lasting EMFILE, retried every acceptDelayMax.
const episodeQuiet = 2 * acceptDelayMax

// MaxConnsFor is the default connection cap under a file limit of nofile
// descriptors: the limit less DefaultConnReserve, or half the limit when
// it is so low that the reserve would leave less. A limit of 0 (unknown),
// RLIM_INFINITY and anything past 2^30 count as 2^30.
func MaxConnsFor(nofile uint64) int {
	if nofile == 0 || nofile > 1<<30 {
		nofile = 1 << 30
	}
	return int(max(nofile-min(nofile, DefaultConnReserve), nofile/2))
}

// connLimit caps the client connections open at once and counts them. Past
// the cap a connection is accepted and at once refused with a fixed 503
// (SVC_001, Retry-After, Connection: close), written without blocking, so a
// client is told to come back instead of waiting in the listen backlog.
// Accept errors (out of descriptors above all) never end the accept loop:
// it backs off and tries again. Each episode of refusals or accept errors
// is logged twice: when it starts and when it is over.
type connLimit struct {
	max     int
	refusal []byte // the whole 503 response
	log     *slog.Logger

	open         atomic.Int64
	refused      atomic.Uint64
	acceptErrors atomic.Uint64

	mu       sync.Mutex // guards the episode
	troubled bool       // in an episode
	began    time.Time  // the episode's first refusal or error
	last     time.Time  // its latest
	counted  [2]uint64  // refused and acceptErrors when it began
}

func newConnLimit(max, retryAfter int, log *slog.Logger) *connLimit {
	e := tooManyConns(retryAfter)
	body := e.answer().Body
	resp := "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\n" +
		"Cache-Control: no-store\r\n" +
		"Retry-After: " + strconv.Itoa(e.RetryAfter) + "\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	return &connLimit{max: max, refusal: []byte(resp), log: log}
}

// trouble records a refusal or an accept error (err), and logs the start
// of an episode; the caller counts it after, so that the episode's count
// includes it.
func (l *connLimit) trouble(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = now
	if l.troubled {
		return
	}
	l.troubled, l.began = true, now
	l.counted = [2]uint64{l.refused.Load(), l.acceptErrors.Load()}
	if err != nil {
		l.log.Warn("accepting connections fails: retrying with backoff, refusing what can be accepted",
			"err", err, "open", l.open.Load(), "max_conns", l.max)
		return
	}
	l.log.Warn("refusing connections: at the connection cap", "open", l.open.Load(), "max_conns", l.max)
}

// admitted records a connection let in, and logs the end of an episode
// that has been quiet long enough.
func (l *connLimit) admitted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.troubled {
		return
	}
	now := time.Now()
	if now.Sub(l.last) < episodeQuiet {
		return
	}
	l.troubled = false
	l.log.Info("accepting connections again", "open", l.open.Load(), "max_conns", l.max,
		"refused", l.refused.Load()-l.counted[0], "accept_errors", l.acceptErrors.Load()-l.counted[1],
		"lasted", l.last.Sub(l.began).Round(time.Millisecond).String())
}

// listener is a net.Listener under a connLimit. Accept is called from one
// goroutine (fasthttp's accept loop); Close from any.
type listener struct {
	net.Listener
	lim   *connLimit
	raw   syscall.RawConn // the listening socket, for refusing at EMFILE; nil if none
	spare *os.File        // a descriptor kept free for that refusal; nil if none
	delay time.Duration   // the current accept backoff
	done  chan struct{}   // closed by Close: a backoff ends at once
	once  sync.Once
}

func (l *connLimit) listen(ln net.Listener) *listener {
	wl := &listener{Listener: ln, lim: l, done: make(chan struct{})}
	if sc, ok := ln.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			wl.raw = raw
			wl.spare = openSpare()
		}
	}
	return wl
}

// Accept returns the next connection within the cap. It returns an error
// only once the listener is closed.
func (l *listener) Accept() (net.Conn, error) {
	for {
		if l.spare == nil && l.raw != nil {
			l.spare = openSpare()
		}
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.closeSpare()
				return nil, err
			}
			l.lim.trouble(err)
			l.lim.acceptErrors.Add(1)
			if outOfFiles(err) && l.refuseOnSpare() {
				continue
			}
			l.backoff()
			continue
		}
		l.delay = 0
		if l.lim.open.Load() >= int64(l.lim.max) {
			l.lim.trouble(nil)
			l.lim.refused.Add(1)
			l.refuse(c)
			continue
		}
		l.lim.open.Add(1)
		l.lim.admitted()
		return l.lim.wrap(c), nil
	}
}

// Close closes the listener and ends a backoff in progress.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// backoff waits the next accept delay, or until Close.
func (l *listener) backoff() {
	l.delay = min(max(2*l.delay, acceptDelayMin), acceptDelayMax)
	t := time.NewTimer(l.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.done:
	}
}

// refuse answers a connection past the cap and closes it.
func (l *listener) refuse(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Write(func(fd uintptr) bool {
				refuseFD(int(fd), l.lim.refusal)
				return true
			})
		}
	}
	_ = c.Close()
}

// refuseOnSpare, out of descriptors, frees the spare one to accept a
// pending connection, refuses it and takes the spare back. It reports
// whether a connection was refused; false when none is pending.
func (l *listener) refuseOnSpare() bool {
	if l.spare == nil || l.raw == nil {
		return false
	}
	l.closeSpare()
	refused := false
	// Control, not Read: a listener's RawConn supports only Control, which
	// never waits (the socket is non-blocking): a pending connection or none.
	_ = l.raw.Control(func(fd uintptr) {
		refused = refusePending(int(fd), l.lim.refusal)
	})
	l.spare = openSpare()
	if refused {
		l.lim.refused.Add(1)
	}
	return refused
}

func (l *listener) closeSpare() {
	if l.spare != nil {
		_ = l.spare.Close()
		l.spare = nil
	}
}

// openSpare opens the descriptor kept free for refusing at EMFILE, or
// returns nil when none can be had now.
func openSpare() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil
	}
	return f
}

// outOfFiles reports whether an accept failed for want of descriptors, in
// the process (EMFILE) or the system (ENFILE).
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// slot is one open connection's place under the cap, given back once
// however often, and by whomever, the connection is closed: fasthttp, a
// held wait, or a reset seen by either.
type slot struct {
	lim  *connLimit
	once sync.Once
}

func (s *slot) release() { s.once.Do(func() { s.lim.open.Add(-1) }) }

// tcpConn is a TCP connection under the cap. It embeds *net.TCPConn so
// that everything the server relies on stays: net.Buffers still writes
// with writev (the net package's unexported writeBuffers is promoted),
// and SyscallConn still gives the socket to peerGone.
type tcpConn struct {
	*net.TCPConn
	slot
}

// Close closes the connection and gives its slot back.
func (c *tcpConn) Close() error {
	err := c.TCPConn.Close()
	c.release()
	return err
}

// otherConn is any other connection under the cap (tests use pipes).
type otherConn struct {
	net.Conn
	slot
}

// Close closes the connection and gives its slot back.
func (c *otherConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

func (l *connLimit) wrap(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &tcpConn{TCPConn: tc, slot: slot{lim: l}}
	}
	return &otherConn{Conn: c, slot: slot{lim: l}}
}
