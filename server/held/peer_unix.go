//go:build unix

package held

import (
	"net"
	"syscall"
)

// peek peeks at one byte of c's socket without reading it, through the
// runtime's poller, so that no connection needs a reader goroutine: with
// wait, until a byte or the client's FIN comes or the read deadline passes;
// without, at once.
func peek(c net.Conn, wait bool) peekState {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peekData
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peekFailed
	}
	st := peekFailed
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		for err == syscall.EINTR {
			n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		}
		switch {
		case err == syscall.EAGAIN:
			st = peekEmpty
			return !wait // false: wait for the poller, and peek again
		case err != nil:
			st = peekFailed
		case n > 0:
			st = peekData
		default:
			st = peekEOF
		}
		return true
	})
	if err != nil {
		return peekFailed
	}
	return st
}
