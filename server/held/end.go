package held

import (
	"io"
	"net"
	"time"
)

// ending is where a held response is: open, or how it ended, which decides
// its connection's fate.
type ending int

const (
	endOpen  ending = iota // being written
	endReuse               // complete; the connection may carry another request
	endClose               // complete; close it gracefully
	endDone                // complete, announced as the connection's last: close it at once (see closedAtOnce)
	endDrop                // cut by shutdown: must look like a dropped connection
	endGone                // the client left or stopped reading: close at once
)

// then is the one rule of a response's ends: an open response ends any way
// (a reuse is a close unless kept alive); an ended one may yet find its
// client gone, as what a push left fails to go. An end is never undone.
func (e ending) then(next ending, keepAlive bool) ending {
	switch {
	case e == endOpen && next == endReuse && !keepAlive:
		return endClose
	case e == endOpen, e != endGone && next == endGone:
		return next
	}
	return e
}

// closeGracefully closes a connection without losing its response: a close
// with unread bytes in the socket (pipelined requests) sends a reset, and the
// peer drops what it has not delivered. So: half-close, discard what the
// client sends until it closes too (2 s and 1 MiB at most), close.
func closeGracefully(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if ok && cw.CloseWrite() == nil && nc.SetReadDeadline(time.Now().Add(2*time.Second)) == nil {
		_, _ = io.CopyN(io.Discard, nc, 1<<20)
	}
	nc.Close()
}

// closedAtOnce closes nc, whose last response is complete, unless the
// client sent more, which a close would answer with a reset; it reports
// whether it did. It never blocks.
func closedAtOnce(nc net.Conn, behind bool) bool {
	if st := peek(nc, false); behind || st == peekData || st == peekFailed {
		return false
	}
	nc.Close()
	return true
}

// peekState is what a peek at a connection's socket found.
type peekState int

const (
	peekData   peekState = iota // a byte to read (or the socket cannot be peeked)
	peekEmpty                   // nothing yet (a peek that does not wait)
	peekEOF                     // the client closed its side, nothing unread before its FIN
	peekFailed                  // a reset, a closed connection, or the read deadline passed
)

// drop ends a stream cut by shutdown as a dropped connection: a chunked
// one without its last chunk; a close-delimited one (HTTP/1.0), which a FIN
// would end cleanly, with a reset.
func drop(nc net.Conn, chunked bool) {
	if chunked {
		closeGracefully(nc)
		return
	}
	if l, ok := nc.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	nc.Close()
}
