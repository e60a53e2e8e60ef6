//go:build unix

package server

import (
	"syscall"
	"unsafe"
)

// pushable readies h for writes that never block (see heldConn): it needs
// the socket under conn.
func (h *heldConn) pushable() {
	sc, ok := h.conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	h.raw, h.tryFn = rc, h.writevOnce
}

// writevOnce writes h.vec in one writev without waiting for the socket:
// tryN is what it took (0 when it is full), tryErr a failure.
func (h *heldConn) writevOnce(fd uintptr) bool {
	var iov [len(h.parts)]syscall.Iovec
	k := 0
	for _, p := range h.vec {
		if len(p) > 0 {
			iov[k].Base = &p[0]
			iov[k].SetLen(len(p))
			k++
		}
	}
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
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
