package admission

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

// slot is one open connection's place under the cap, given back once,
// however often and by whomever the connection is closed, or when it is
// reclaimed. While quiet, a read deadline the owner sets (fasthttp's read
// timeout, set before any byte) is held to the first byte's, and applied
// once that byte is read. Only the reader touches firstBy and asked, and
// only while quiet: no lock.
type slot struct {
	lim  *Conns
	conn net.Conn   // the connection itself
	key  netip.Addr // counted under it; the zero Addr: not counted per address

	phase      atomic.Int32 // a phase; written under lim.mu, but quiet to busy (see Read)
	prev, next *slot        // the idle list, under lim.mu
	firstBy    time.Time    // the first byte's deadline
	asked      time.Time    // the read deadline the owner asked for while quiet
}

// tcpConn is a TCP connection under the cap. It embeds *net.TCPConn so that
// net.Buffers still writes with writev (net's unexported writeBuffers is
// promoted) and SyscallConn gives the socket to a non-blocking peek. slot's
// Read, Close and deadline setters win over TCPConn's, a level deeper.
type tcpConn struct {
	slot
	*net.TCPConn
}

// otherConn is any other connection under the cap (tests use pipes).
type otherConn struct {
	slot
	inner
}

// inner puts a net.Conn's methods one level below slot's.
type inner struct{ net.Conn }

// wrap puts an admitted connection under the cap, quiet, its first-byte
// deadline running.
func (l *Conns) wrap(c net.Conn, key netip.Addr) net.Conn {
	var s *slot
	var w net.Conn
	if tc, ok := c.(*net.TCPConn); ok {
		t := &tcpConn{TCPConn: tc}
		s, w = &t.slot, t
	} else {
		o := &otherConn{inner: inner{c}}
		s, w = &o.slot, o
	}
	s.lim, s.conn, s.key = l, c, key
	s.firstBy = time.Now().Add(l.firstByte)
	_ = c.SetReadDeadline(s.firstBy)
	return w
}

// slotOf is the slot of a connection under the cap, nil for any other.
func slotOf(c net.Conn) *slot {
	if s, ok := c.(interface{ slotOf() *slot }); ok {
		return s.slotOf()
	}
	return nil
}

func (s *slot) slotOf() *slot { return s }

// Read reads from the connection. The first byte, or a timeout (silent too
// long: the owner answers 408), ends the quiet phase.
func (s *slot) Read(b []byte) (int, error) {
	n, err := s.conn.Read(b)
	if phase(s.phase.Load()) != quiet {
		return n, err
	}
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)
	if (n > 0 || timedOut) && s.phase.CompareAndSwap(int32(quiet), int32(busy)) {
		if n > 0 {
			_ = s.conn.SetReadDeadline(s.asked)
		} else {
			s.lim.silent.Add(1)
		}
	}
	return n, err
}

// SetReadDeadline sets the read deadline; while quiet, never past the first
// byte's.
func (s *slot) SetReadDeadline(t time.Time) error {
	if phase(s.phase.Load()) == quiet {
		s.asked = t
		if t.IsZero() || t.After(s.firstBy) {
			t = s.firstBy
		}
	}
	return s.conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (s *slot) SetDeadline(t time.Time) error {
	return errors.Join(s.conn.SetWriteDeadline(t), s.SetReadDeadline(t))
}

// Close closes the connection and gives its slot back.
func (s *slot) Close() error {
	err := s.conn.Close()
	s.lim.mu.Lock()
	s.lim.drop(s)
	s.lim.mu.Unlock()
	return err
}

// shut ends a reclaimed connection without waiting for its owner (a close
// could wait for its read): the client gets a FIN, the owner's read EOF.
func (s *slot) shut() {
	if hc, ok := s.conn.(interface {
		CloseRead() error
		CloseWrite() error
	}); ok {
		_ = hc.CloseWrite()
		_ = hc.CloseRead()
		return
	}
	_ = s.conn.Close()
}
