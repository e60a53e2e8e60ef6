package admission

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultFirstByteTimeout is how long a new connection may stay silent.
const DefaultFirstByteTimeout = 5 * time.Second

// MaxConnsPerIPFor is the default per-address connection cap under a
// connection cap of maxConns: an eighth of it, at least one.
func MaxConnsPerIPFor(maxConns int) int { return max(1, maxConns/8) }

// refusal is why a connection was refused at once.
type refusal int

const (
	atCap      refusal = iota // open connections at Config.MaxConns, none idle
	atAddrCap                 // its address at Config.MaxConnsPerIP
	outOfFiles                // accept failed for want of descriptors; refused on the spare one
	refusals                  // how many reasons there are
)

// Reasons are the labels of the refusals' reasons, in the order of
// ConnStats.Refused.
var Reasons = [refusals]string{"max_conns", "max_conns_per_ip", "out_of_descriptors"}

// Conns admits, counts and reclaims the client connections (see the package
// doc). A connection admitted at or above the high-water mark (seven
// eighths of max) closes the one idle longest, so that new clients displace
// idle keep-alive ones before any is refused; the last eighth is for when
// none is idle.
type Conns struct {
	max, perAddr, high int
	firstByte          time.Duration
	trusted            []netip.Prefix
	refusal            []byte // the whole 503 response
	log                *slog.Logger

	open         atomic.Int64
	refused      [refusals]atomic.Uint64
	reclaimed    atomic.Uint64
	silent       atomic.Uint64 // connections whose first byte never came
	acceptErrors atomic.Uint64

	mu     sync.Mutex
	byAddr map[netip.Addr]int // open connections per address key
	idle   idleList

	emu          sync.Mutex // guards server and addr
	server, addr episode    // the server's trouble, and addresses refused at their share
}

// Config is the connection cap's settings; the caller applies the defaults
// (MaxConnsFor, MaxConnsPerIPFor, DefaultFirstByteTimeout).
type Config struct {
	MaxConns         int           // open connections in all, idle ones included
	MaxConnsPerIP    int           // open connections per address key (see Key)
	FirstByteTimeout time.Duration // how long a new connection may stay silent
	TrustedProxies   []netip.Prefix
	// Refusal is the whole response (status line, headers, body) written to
	// a connection refused at once, before anyone reads it.
	Refusal []byte
	Logger  *slog.Logger
}

// NewConns returns the connection cap of cfg.
func NewConns(cfg Config) *Conns {
	return &Conns{max: cfg.MaxConns, perAddr: cfg.MaxConnsPerIP, high: cfg.MaxConns - cfg.MaxConns/8,
		firstByte: cfg.FirstByteTimeout, trusted: cfg.TrustedProxies,
		refusal: cfg.Refusal, log: cfg.Logger, byAddr: make(map[netip.Addr]int)}
}

// ConnStats are the connection cap's gauges and counters, for /metrics.
type ConnStats struct {
	Open, Idle      int64 // connections open; idle ones among them
	Max, MaxPerAddr int   // the caps in force
	// Refused counts the connections refused at once, by reason (Reasons).
	Refused      [refusals]uint64
	Reclaimed    uint64 // idle connections closed to make room
	Silent       uint64 // connections cut for sending no first byte in time
	AcceptErrors uint64 // accepts that failed, each retried after a backoff
}

// Stats reads the counters; each is read atomically, not all at once.
func (l *Conns) Stats() ConnStats {
	st := ConnStats{Open: l.open.Load(), Idle: l.idle.n.Load(), Max: l.max, MaxPerAddr: l.perAddr,
		Reclaimed: l.reclaimed.Load(), Silent: l.silent.Load(), AcceptErrors: l.acceptErrors.Load()}
	for why := range st.Refused {
		st.Refused[why] = l.refused[why].Load()
	}
	return st
}

// phase is where a connection is: quiet to busy (its first byte, or its
// time for one ran out), busy to idle and back (between requests), and any
// to gone (closed or reclaimed), which is final.
type phase int32

const (
	quiet phase = iota // admitted, nothing read yet: the first-byte deadline runs
	busy               // inside a request, its response or a held wait
	idle               // between requests, on the idle list: reclaimable
	gone               // closed or reclaimed: counted no more
)

// admit counts c in, or counts its refusal and says why. At or above the
// high-water mark it first reclaims the connection idle longest.
func (l *Conns) admit(c net.Conn) (net.Conn, refusal, bool) {
	key := l.addrKey(c)
	l.mu.Lock()
	if key.IsValid() && l.byAddr[key] >= l.perAddr {
		l.mu.Unlock()
		l.refusedFor(atAddrCap, key)
		return nil, atAddrCap, false
	}
	var victim *slot
	if l.open.Load() >= int64(l.high) {
		if victim = l.idle.head; victim != nil {
			l.drop(victim)
		}
	}
	if l.open.Load() >= int64(l.max) {
		l.mu.Unlock()
		l.refusedFor(atCap, key)
		return nil, atCap, false
	}
	if key.IsValid() {
		l.byAddr[key]++
	}
	l.open.Add(1)
	l.mu.Unlock()
	if victim != nil {
		victim.shut()
		l.reclaimed.Add(1)
	}
	return l.wrap(c, key), 0, true
}

// addrKey is what c is counted under per address (see Key); the zero Addr
// when it is not counted per address: from a trusted proxy, or not TCP.
func (l *Conns) addrKey(c net.Conn) netip.Addr {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	a := ta.AddrPort().Addr().Unmap().WithZone("")
	if !a.IsValid() || trustedAddr(a, l.trusted) {
		return netip.Addr{}
	}
	return Key(a)
}

// drop takes s off the count, once; called with mu held.
func (l *Conns) drop(s *slot) {
	switch phase(s.phase.Load()) {
	case gone:
		return
	case idle:
		l.idle.remove(s)
	}
	s.phase.Store(int32(gone))
	if s.key.IsValid() {
		if l.byAddr[s.key]--; l.byAddr[s.key] <= 0 {
			delete(l.byAddr, s.key)
		}
	}
	l.open.Add(-1)
}

// Rest marks c idle: its response is written and it awaits its next
// request, reclaimable until Wake.
func (l *Conns) Rest(c net.Conn) {
	s := slotOf(c)
	if s == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if phase(s.phase.Load()) == busy {
		s.phase.Store(int32(idle))
		l.idle.pushBack(s)
	}
}

// Wake marks c busy: its next request has begun. False if it was reclaimed
// (or closed) meanwhile: it is being shut down.
func (l *Conns) Wake(c net.Conn) bool {
	s := slotOf(c)
	if s == nil {
		return true
	}
	switch phase(s.phase.Load()) {
	case quiet, busy:
		return true // the first request's StateActive comes before its first byte
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if phase(s.phase.Load()) != idle {
		return false
	}
	l.idle.remove(s)
	s.phase.Store(int32(busy))
	return true
}

// Watch follows fast's connections between requests (StateIdle, then
// StateActive); one taken over from fast is followed by its new owner.
func (l *Conns) Watch(fast *fasthttp.Server) {
	next := fast.ConnState
	fast.ConnState = func(c net.Conn, st fasthttp.ConnState) {
		switch st {
		case fasthttp.StateIdle:
			l.Rest(c)
		case fasthttp.StateActive:
			l.Wake(c)
		}
		if next != nil {
			next(c, st)
		}
	}
}

// idleList is the idle connections, the one idle longest first (each goes
// idle at the back); n is read without the lock, for /metrics.
type idleList struct {
	head, tail *slot
	n          atomic.Int64
}

func (q *idleList) pushBack(s *slot) {
	s.prev, s.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = s
	} else {
		q.head = s
	}
	q.tail = s
	q.n.Add(1)
}

func (q *idleList) remove(s *slot) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		q.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		q.tail = s.prev
	}
	s.prev, s.next = nil, nil
	q.n.Add(-1)
}
