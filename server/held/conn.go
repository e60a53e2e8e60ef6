package held

import (
	"bytes"
	"cmp"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// WriteGrace is what a held response's write deadline adds to the wait's
// end, besides its bytes at the takeover's rate: a client that stops
// reading is cut off then; one reading at that rate never is.
const WriteGrace = 5 * time.Second

// CodeGone is the status counted for a held wait whose client left (or
// stopped reading) before its answer was written.
const CodeGone = 499

// Conn is a waiting client's connection, taken over from fasthttp. Its
// writers take turns under mu; nothing is written after the write that
// ends the response (finish).
type Conn struct {
	mu      sync.Mutex
	ended   ending
	pushing bool     // the writer is the hub's fan-out: write must not block
	rest    [][]byte // what pushes could not write at once

	t        *Takeover
	done     func(code int) // the wait's release (see Takeover.Hold)
	watching bool           // serve left the response to Watch, which releases it

	raw    syscall.RawConn       // for writes that never block; nil: no pushes
	tryFn  func(fd uintptr) bool // sendOnce, kept so that a push allocates no method value
	tryN   int
	more   bool // the last write before a close: let the FIN ride with it
	tryErr error

	conn      net.Conn
	extra     []byte // headers set before the takeover (CORS), as "K: v\r\n" lines
	keepAlive bool   // the client may send another request on the connection
	behind    bool   // the client pipelined another request behind this one
	chunked   bool   // HTTP/1.1: a stream is chunked; HTTP/1.0: it ends with the connection
	headOnly  bool

	end  time.Time // the wait's end, or the takeover if later: the write deadline's base
	rate int64     // bytes per second a client may read at and be served whole
	sent int64     // bytes of the response so far
	code int       // the status counted: what the response carried; CodeGone if nothing

	vec   net.Buffers // write's vector, kept here so that a write allocates nothing
	parts [3][]byte
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putBuf(bp *[]byte) {
	if cap(*bp) <= 16<<10 { // keep an unusually large head out of the pool
		bufs.Put(bp)
	}
}

// passHeaders keeps the headers middleware set before the takeover, but
// those the held response writes itself.
func passHeaders(h *fasthttp.ResponseHeader) []byte {
	var out []byte
	h.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fiber.HeaderContentType, fiber.HeaderContentLength, fiber.HeaderConnection, fiber.HeaderDate,
			fiber.HeaderServer, fiber.HeaderTransferEncoding, fiber.HeaderCacheControl, fiber.HeaderRetryAfter:
			return
		}
		out = append(append(append(append(out, k...), ": "...), v...), "\r\n"...)
	})
	return out
}

// write writes parts (at most three) in one system call. Only the first is
// the writer's own buffer; what a push leaves of the others (a shared body,
// a fixed frame) is kept in rest, not copied. A writer that may block
// writes rest first.
func (h *Conn) write(parts ...[]byte) error {
	for _, p := range parts {
		h.sent += int64(len(p))
	}
	if h.pushing {
		return h.writeNow(parts)
	}
	if err := h.flush(); err != nil {
		return err
	}
	return h.writeBy(parts)
}

// writeNow writes parts in one sendmsg that never blocks, keeping in rest
// what the socket did not take; nothing is written past a rest.
func (h *Conn) writeNow(parts [][]byte) error {
	n := 0
	if h.rest == nil {
		h.vec = append(h.parts[:0], parts...)
		h.tryN, h.tryErr = 0, nil
		err := h.raw.Write(h.tryFn)
		clear(h.parts[:])
		if err = cmp.Or(err, h.tryErr); err != nil {
			return err
		}
		n = h.tryN
	}
	for i, p := range parts {
		if n >= len(p) {
			n -= len(p)
			continue
		}
		if p = p[n:]; i == 0 {
			p = bytes.Clone(p) // the writer's own buffer, reused once write returns
		}
		h.rest = append(h.rest, p)
		n = 0
	}
	return nil
}

// flush writes, by the response's deadline, what a push left unwritten.
func (h *Conn) flush() error {
	if h.rest == nil {
		return nil
	}
	err := h.writeBy(h.rest)
	h.rest = nil
	return err
}

// writeBy writes parts in one writev by the response's deadline.
func (h *Conn) writeBy(parts [][]byte) error {
	if err := h.conn.SetWriteDeadline(writeDeadline(h.end, h.sent, h.rate)); err != nil {
		return err
	}
	h.vec = append(h.parts[:0], parts...)
	_, err := h.vec.WriteTo(h.conn)
	clear(h.parts[:]) // keep no shared body past the write
	return err
}

// writeDeadline is end + WriteGrace + size bytes at rate bytes per second.
func writeDeadline(end time.Time, size, rate int64) time.Time {
	return end.Add(WriteGrace + time.Duration(float64(size)/float64(rate)*float64(time.Second)))
}

// finish records how the response ended (see ending.then). Called with mu
// held, or by serve before Watch.
func (h *Conn) finish(e ending) {
	if h.ended = h.ended.then(e, h.keepAlive); h.ended == endGone {
		h.code = CodeGone
	}
}

// Over reports whether the response has ended.
func (h *Conn) Over() bool { return h.ended != endOpen }

// Count sets the status the wait is counted with (see Takeover.Hold).
func (h *Conn) Count(code int) { h.code = code }
