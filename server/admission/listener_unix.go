//go:build unix

package admission

import "syscall"

// FileLimit is the process's file limit (RLIMIT_NOFILE's soft limit, which
// Go raises to the hard limit at start), or 0 when it cannot be read.
func FileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return uint64(r.Cur) // an int64 on the BSDs
}

// refusePending accepts a pending connection on a listening socket, refuses
// it and closes it; false when none is pending (Go's sockets never block).
func refusePending(fd int, resp []byte) bool {
	nfd, _, err := syscall.Accept(fd)
	if err != nil {
		return false
	}
	refuseFD(nfd, resp)
	_ = syscall.Close(nfd)
	return true
}

// refuseFD writes the refusal to a connection's socket without blocking,
// having first dropped what the client sent (a few reads at most), so that
// the close sends FIN rather than RST, which could discard the refusal
// unread. A refusal that does not fit the socket's buffer (it always fits
// a new connection's) is cut.
func refuseFD(fd int, resp []byte) {
	var b [4096]byte
	for range 4 {
		n, _, err := syscall.Recvfrom(fd, b[:], syscall.MSG_DONTWAIT)
		if err != nil || n < len(b) {
			break
		}
	}
	_ = syscall.Sendto(fd, resp, syscall.MSG_DONTWAIT, nil)
}
