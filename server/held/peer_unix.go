//go:build unix

package held

import (
	"errors"
	"net"
	"syscall"
)

// peerGone reports whether the client has closed its side of a held
// connection or reset it: a non-blocking peek, so that a vanished client is
// noticed at the next heartbeat without a reader goroutine per connection.
func peerGone(c net.Conn) bool {
	gone := false
	sock, err := peek(c, func(n int, err error) bool {
		gone = (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
		return true
	})
	return sock && (gone || err != nil)
}

// readable waits, until the connection's read deadline, for a byte to read
// without reading it; false if the client closed the connection or the
// deadline passed first. closed says the client closed its side with
// nothing unread before its FIN: the connection can then be closed at once,
// with no half-close and drain (see closeGracefully), and no reset.
func readable(c net.Conn) (ready, closed bool) {
	sock, err := peek(c, func(n int, err error) bool {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return false // wait for the poller
		}
		ready = n > 0
		closed = n == 0 && err == nil
		return true
	})
	if !sock {
		return true, false
	}
	return ready && err == nil, closed && err == nil
}

// unread reports whether the client has sent bytes not yet read (or the
// socket cannot be peeked): a close would then reset the connection.
func unread(c net.Conn) bool {
	more := true
	sock, err := peek(c, func(n int, err error) bool {
		more = n > 0 || (err != nil && !errors.Is(err, syscall.EAGAIN))
		return true
	})
	return !sock || err != nil || more
}

// peek peeks at one byte of c's socket without blocking, through the
// runtime's poller: done gets the peek's count and error, and returns false
// to wait until the socket is readable (or its read deadline) and peek
// again. sock is false when c is not a socket; err is the poller's (a
// deadline passed, the connection closed).
func peek(c net.Conn, done func(n int, err error) bool) (sock bool, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true, err
	}
	var b [1]byte
	return true, rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return done(n, err)
	})
}
