package admission

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

// slot is one open connection's place under the connection cap: its
// address's count, its phase, its place on the idle list. It is given back
// once however often, and by whomever, the connection is closed: fasthttp,
// a held wait, or a reset seen by either; or when it is reclaimed.
//
// While quiet, the slot also keeps the first-byte deadline: a read
// deadline set by the connection's owner (fasthttp's read timeout, set as
// the first request begins, before any byte) is held to it until the
// first byte is read, then applied. Only the reader touches firstBy and
// asked, and only while quiet: no lock.
type slot struct {
	lim     *Conns
	conn    net.Conn // the connection itself
	key     netip.Addr
	counted bool // counted under key (see Conns.addrKey)

	phase      atomic.Int32 // a phase; written under lim.mu, but quiet to busy (heard)
	prev, next *slot        // the idle list, under lim.mu
	firstBy    time.Time    // the first byte's deadline
	asked      time.Time    // the read deadline the owner asked for while quiet
}

// slotOf is the slot of a connection under the cap, nil for any other.
func slotOf(c net.Conn) *slot {
	if s, ok := c.(interface{ slotOf() *slot }); ok {
		return s.slotOf()
	}
	return nil
}

func (s *slot) slotOf() *slot { return s }

// release gives the slot back, once.
func (s *slot) release() {
	s.lim.mu.Lock()
	s.lim.drop(s)
	s.lim.mu.Unlock()
}

// read reads from the connection; the first byte ends the quiet phase, and
// so does its deadline.
func (s *slot) read(b []byte) (int, error) {
	n, err := s.conn.Read(b)
	if phase(s.phase.Load()) == quiet {
		s.heard(n, err)
	}
	return n, err
}

// heard ends the quiet phase after a read: with a byte, the deadline the
// owner asked for applies from now on; with a timeout, the connection was
// silent too long (its owner answers 408 and closes it).
func (s *slot) heard(n int, err error) {
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)
	if (n > 0 || timedOut) && s.phase.CompareAndSwap(int32(quiet), int32(busy)) {
		if n > 0 {
			_ = s.conn.SetReadDeadline(s.asked)
		} else {
			s.lim.silent.Add(1)
		}
	}
}

// readDeadline is the read deadline to set when the owner asks for t:
// while quiet, never past the first byte's.
func (s *slot) readDeadline(t time.Time) time.Time {
	if phase(s.phase.Load()) != quiet {
		return t
	}
	s.asked = t
	if t.IsZero() || t.After(s.firstBy) {
		return s.firstBy
	}
	return t
}

// shut ends a reclaimed connection without waiting for its owner: the
// client gets a FIN, and the owner's read returns at once (EOF) and
// closes it. A close here could wait for the owner's read to return.
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

// tcpConn is a TCP connection under the cap. It embeds *net.TCPConn so
// that everything the server relies on stays: net.Buffers still writes
// with writev (the net package's unexported writeBuffers is promoted),
// and SyscallConn still gives the socket to a non-blocking peek.
type tcpConn struct {
	*net.TCPConn
	slot
}

func (c *tcpConn) Read(b []byte) (int, error) { return c.read(b) }

// SetReadDeadline sets the read deadline, held to the first byte's while
// quiet.
func (c *tcpConn) SetReadDeadline(t time.Time) error {
	return c.TCPConn.SetReadDeadline(c.readDeadline(t))
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *tcpConn) SetDeadline(t time.Time) error {
	return errors.Join(c.TCPConn.SetWriteDeadline(t), c.SetReadDeadline(t))
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

func (c *otherConn) Read(b []byte) (int, error) { return c.read(b) }

// SetReadDeadline sets the read deadline, held to the first byte's while
// quiet.
func (c *otherConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.readDeadline(t))
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *otherConn) SetDeadline(t time.Time) error {
	return errors.Join(c.Conn.SetWriteDeadline(t), c.SetReadDeadline(t))
}

// Close closes the connection and gives its slot back.
func (c *otherConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// wrap puts an admitted connection under the cap, quiet, its first-byte
// deadline running.
func (l *Conns) wrap(c net.Conn, key netip.Addr, counted bool) net.Conn {
	var s *slot
	var w net.Conn
	if tc, ok := c.(*net.TCPConn); ok {
		t := &tcpConn{TCPConn: tc}
		s, w = &t.slot, t
	} else {
		o := &otherConn{Conn: c}
		s, w = &o.slot, o
	}
	s.lim, s.conn, s.key, s.counted = l, c, key, counted
	s.firstBy = time.Now().Add(l.firstByte)
	_ = c.SetReadDeadline(s.firstBy)
	return w
}
