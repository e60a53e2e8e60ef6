package held

import (
	"io"
	"net"
	"time"
)

// How a held response ends decides its connection's fate: handed back to
// fasthttp for the client's next request, closed gracefully, at once, or
// as a dropped connection.

// ending is where a held response is: open, or how it ended.
type ending int

const (
	endOpen  ending = iota // being written: not ended
	endReuse               // complete; the connection may carry another request
	endClose               // complete; close it gracefully
	endDone                // complete, announced as the connection's last: close it at once (see closedAtOnce)
	endDrop                // cut by shutdown: must look like a dropped connection
	endGone                // the client left or stopped reading: close at once
)

// then is the one rule of a response's ends, the ending after e when next
// is recorded (see Conn.finish):
//
//   - an open response ends any way; ending it for reuse when the client
//     may not send another request on the connection ends it for a close;
//   - a response that has ended is written no more, but what a push left
//     unwritten (Conn.rest) may yet fail to go: then the client is gone;
//   - nothing else: a gone client is final, and an end is never undone.
func (e ending) then(next ending, keepAlive bool) ending {
	switch {
	case e == endOpen && next == endReuse && !keepAlive:
		return endClose
	case e == endOpen, e != endGone && next == endGone:
		return next
	}
	return e
}

// drainTime and drainBytes bound what a connection closed after its answer
// reads and discards of what the client sent behind its request, so that
// close sends no reset, which would drop the answer's unsent tail.
const (
	drainTime  = 2 * time.Second
	drainBytes = 1 << 20
)

// closeGracefully closes a connection whose response is complete without
// losing any of it: a close with unread bytes in the socket (requests the
// client pipelined behind a held one) sends a reset, and the peer's kernel
// then drops what it has not yet delivered. So: half-close (FIN after the
// response), read and discard what the client sent until it closes too,
// for drainTime and drainBytes at most, then close.
func closeGracefully(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil || nc.SetReadDeadline(time.Now().Add(drainTime)) != nil {
		nc.Close()
		return
	}
	_, _ = io.CopyN(io.Discard, nc, drainBytes)
	nc.Close()
}

// closedAtOnce closes nc, whose last response is complete, unless the
// client sent more (pipelined behind the request, or since), which a close
// would answer with a reset; it reports whether it did. It never blocks.
func closedAtOnce(nc net.Conn, behind bool) bool {
	if behind || unread(nc) {
		return false
	}
	nc.Close()
	return true
}

// drop ends a stream cut by shutdown so that every client takes it for a
// dropped connection and reconnects: a chunked stream ends without its
// last chunk (an unexpected EOF); a close-delimited one (HTTP/1.0), which a
// FIN would end cleanly, with a reset.
func drop(nc net.Conn, chunked bool) {
	if !chunked {
		if l, ok := nc.(interface{ SetLinger(int) error }); ok {
			_ = l.SetLinger(0)
		}
		nc.Close()
		return
	}
	closeGracefully(nc)
}
