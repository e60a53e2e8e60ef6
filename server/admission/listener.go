package admission

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultConnReserve is the part of the file limit (RLIMIT_NOFILE) that the
// default connection cap leaves to all but clients: the Redis pool (64 per
// node unless REDIS_URL's pool_size says more), the subscriptions, the
// listener and its spare, stdio, the poller, pprof, /proc reads for the
// metrics, DNS. A cluster of many nodes needs more: set the cap.
const DefaultConnReserve = 128

// Backoff of a failing accept, as net/http's: 5 ms, doubling up to 1 s.
const (
	acceptDelayMin = 5 * time.Millisecond
	acceptDelayMax = time.Second
)

// MaxConnsFor is the default connection cap under a file limit of nofile
// descriptors: the limit less DefaultConnReserve, or half the limit when it
// is so low that the reserve would leave less. A limit of 0 (unknown),
// RLIM_INFINITY and anything past 2^30 count as 2^30.
func MaxConnsFor(nofile uint64) int {
	if nofile == 0 || nofile > 1<<30 {
		nofile = 1 << 30
	}
	return int(max(nofile-min(nofile, DefaultConnReserve), nofile/2))
}

// Listener is a net.Listener under a Conns: a connection past a cap is
// accepted and refused at once rather than left in the listen backlog.
// Accept errors never end the accept loop: it backs off, and out of
// descriptors refuses on a spare one.
type Listener struct {
	net.Listener
	lim   *Conns
	raw   syscall.RawConn // the listening socket, for refusing at EMFILE; nil if none
	spare *os.File        // a descriptor kept free for that refusal; nil if none
	delay time.Duration   // the current accept backoff
	done  chan struct{}   // closed by Close: a backoff ends at once
	once  sync.Once
}

// Listen puts ln under the cap.
func (l *Conns) Listen(ln net.Listener) *Listener {
	wl := &Listener{Listener: ln, lim: l, done: make(chan struct{})}
	if sc, ok := ln.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			wl.raw = raw
		}
	}
	return wl
}

// Accept returns the next connection within the cap. It returns an error
// only once the listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		if l.spare == nil && l.raw != nil {
			l.spare, _ = os.Open(os.DevNull)
		}
		c, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			l.closeSpare()
			return nil, err
		}
		if err != nil {
			l.lim.failed(err)
			noFiles := errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
			if !noFiles || !l.refuseOnSpare() {
				l.backoff()
			}
			continue
		}
		l.delay = 0
		if wc, _, ok := l.lim.admit(c); ok {
			l.lim.admitted()
			return wc, nil
		}
		// Past a cap: answer, without blocking, and close.
		if sc, ok := c.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				_ = raw.Control(func(fd uintptr) { refuseFD(int(fd), l.lim.refusal) })
			}
		}
		_ = c.Close()
	}
}

// Close closes the listener and ends a backoff in progress.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// backoff waits the next accept delay, or until Close.
func (l *Listener) backoff() {
	l.delay = min(max(2*l.delay, acceptDelayMin), acceptDelayMax)
	t := time.NewTimer(l.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.done:
	}
}

// refuseOnSpare, out of descriptors, frees the spare one to accept and
// refuse a pending connection, and takes it back; false if none was pending.
func (l *Listener) refuseOnSpare() bool {
	if l.spare == nil {
		return false
	}
	l.closeSpare()
	refused := false
	// A listener's RawConn supports only Control; the socket never blocks.
	_ = l.raw.Control(func(fd uintptr) { refused = refusePending(int(fd), l.lim.refusal) })
	l.spare, _ = os.Open(os.DevNull)
	if refused {
		l.lim.refusedFor(outOfFiles, netip.Addr{})
	}
	return refused
}

func (l *Listener) closeSpare() {
	if l.spare != nil {
		_ = l.spare.Close()
		l.spare = nil
	}
}
