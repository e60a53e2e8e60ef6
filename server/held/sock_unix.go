//go:build unix

package held

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pushable readies h for writes that never block (see Conn).
func (h *Conn) pushable() {
	if sc, ok := h.conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			h.raw, h.tryFn = rc, h.sendOnce
		}
	}
}

// sendOnce writes h.vec in one sendmsg that never waits: tryN is what it
// took, tryErr a failure. The last write before a close (h.more) lets the
// FIN ride in the same segment (msgMore): one segment less per stream.
func (h *Conn) sendOnce(fd uintptr) bool {
	var iov [len(h.parts)]unix.Iovec
	k := 0
	for _, p := range h.vec {
		if len(p) > 0 {
			iov[k].Base = &p[0]
			iov[k].SetLen(len(p))
			k++
		}
	}
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(k)
	flags := 0
	if h.more {
		flags = msgMore
	}
	for {
		n, _, errno := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), uintptr(flags))
		switch errno {
		case 0:
			h.tryN = int(n)
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
		default:
			h.tryErr = errno
		}
		return true
	}
}

// peek peeks at c's socket through the runtime's poller, so that no
// connection needs a reader goroutine: with wait, until a byte or the FIN
// comes or the read deadline passes; without, at once.
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
