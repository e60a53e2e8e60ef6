package server

import (
	"bytes"
	"cmp"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// A held response (a long poll's answer, a whole stream) is written by one
// deadline, set from the response and never per write: the wait's end, plus
// writeGrace, plus the response's bytes at Config.MinReadRate. A client that
// stops reading is cut off then, and its waiter released; a client reading
// at least at MinReadRate is never cut off, however large the answer.
const writeGrace = 5 * time.Second

// codeGone is the status counted for a held wait whose client left (or
// stopped reading) before its answer was written: nothing was sent.
const codeGone = 499

// heldConn is a waiting client's connection, taken over from fasthttp once
// the wait is admitted and the job's first state is known (see holds). Its
// serve function writes the response through it and never closes it:
// holds does, or hands it back to fasthttp.
//
// A one-job wait has two kinds of writers, one at a time under mu (see
// heldWait): the hub's fan-out, which writes the event or answer a change
// calls for the moment the job's new state is read, in a write that never
// blocks (pushing); and goroutines that may block (the first answer or
// event, heartbeats, the end, shutdown), which first write what a push
// left in rest, by the response's deadline. Whoever writes the response's
// end records it (finish), and nothing is written after. A many-job wait
// has one writer, its own goroutine.
type heldConn struct {
	mu      sync.Mutex
	over    bool     // the response has ended (or the client is gone): ended says how
	ended   ending   // set with over
	pushing bool     // the writer is the hub's fan-out: write must not block
	rest    [][]byte // what pushes could not write at once, for a goroutine that may block

	release func(e ending) // ends the hold: the waiter's release, the metrics, the connection's fate (see holds.hold)

	raw    syscall.RawConn       // conn's socket, for writes that never block; nil: no pushes
	tryFn  func(fd uintptr) bool // writes parts once without blocking into tryN, tryErr
	tryN   int
	more   bool // the push is the response's last write before a close: let the FIN ride with it
	tryErr error

	conn      net.Conn
	extra     []byte // headers set before the takeover (CORS), as "K: v\r\n" lines
	keepAlive bool   // the client may send another request on the connection
	behind    bool   // the client pipelined another request behind this one
	chunked   bool   // HTTP/1.1: a stream is chunked; HTTP/1.0: it ends with the connection
	headOnly  bool   // a HEAD request: headers only

	end  time.Time // the wait's end, or the takeover if later (see holds.hold): the write deadline's base
	rate int64     // bytes per second a client may read at and be served whole
	sent int64     // bytes of the response so far
	code int       // the status counted: what the response carried; codeGone if nothing

	// vec and parts are write's vector (for one writev or sendmsg), kept
	// with the connection so that a write allocates nothing (a net.Buffers
	// of its own escapes).
	vec   net.Buffers
	parts [3][]byte
}

// bufs holds the buffers in which held connections build a response's head
// or an event's frame, for one write at a time; bodies are never copied in.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps an unusually large head out of the pool.
const maxPooledBuf = 16 << 10

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
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

// write writes parts (at most three) in one system call. The first part is
// the writer's own buffer; the others are never changed once written (an
// answer's body, shared by every waiter of the job, or a fixed frame), so
// what the socket did not take of them is kept, not copied: a large answer
// left unread by many clients is held once. A push writes what
// the socket takes at once and leaves the rest in rest (see heldConn);
// the held goroutine writes rest first, then parts, by the response's
// deadline (see writeGrace), which grows with the response's bytes. It
// allocates nothing unless the socket is full.
func (h *heldConn) write(parts ...[]byte) error {
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

// writeNow writes parts in one sendmsg that never blocks, keeping a copy of
// what the socket did not take in rest. Nothing is written past a rest.
func (h *heldConn) writeNow(parts [][]byte) error {
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
		if i == 0 {
			p = bytes.Clone(p[n:]) // the writer's own buffer, reused once write returns
		} else {
			p = p[n:] // kept, not copied: never changed (see write)
		}
		h.rest = append(h.rest, p)
		n = 0
	}
	return nil
}

// flush writes, by the response's deadline, what a push left unwritten.
func (h *heldConn) flush() error {
	if h.rest == nil {
		return nil
	}
	err := h.writeBy(h.rest)
	h.rest = nil
	return err
}

// writeBy writes parts in one writev by the response's deadline.
func (h *heldConn) writeBy(parts [][]byte) error {
	if err := h.conn.SetWriteDeadline(writeDeadline(h.end, h.sent, h.rate)); err != nil {
		return err
	}
	h.vec = append(h.parts[:0], parts...)
	_, err := h.vec.WriteTo(h.conn)
	clear(h.parts[:]) // keep no body (shared by every waiter) past the write
	return err
}

// writeDeadline is when a held response of size bytes for a wait ending at
// end must be written by: end + writeGrace + size at rate bytes per second.
func writeDeadline(end time.Time, size, rate int64) time.Time {
	return end.Add(writeGrace + time.Duration(float64(size)/float64(rate)*float64(time.Second)))
}

// head appends a response's status line and headers, without the blank line.
func (h *heldConn) head(b []byte, code int, contentType string) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, fasthttp.StatusMessage(code)...)
	b = append(b, "\r\nDate: "...)
	b = fasthttp.AppendHTTPDate(b, time.Now())
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\n"...)
	b = append(b, h.extra...)
	if !h.keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	return b
}

// answer writes a whole JSON response.
func (h *heldConn) answer(code int, retryAfter int, body []byte) error {
	bp := bufs.Get().(*[]byte)
	defer putBuf(bp)
	b := h.head((*bp)[:0], code, fiber.MIMEApplicationJSON)
	b = append(b, "Cache-Control: no-store\r\n"...)
	if retryAfter > 0 {
		b = append(b, "Retry-After: "...)
		b = strconv.AppendInt(b, int64(retryAfter), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	*bp = b
	var err error
	if h.headOnly {
		err = h.write(b)
	} else {
		err = h.write(b, body)
	}
	if err == nil {
		h.code = code
	}
	return err
}

// finish records how the response ended; a client gone is counted as
// codeGone, whatever was written before. Called with mu held.
func (h *heldConn) finish(e ending) {
	h.over, h.ended = true, e
	if e == endGone {
		h.code = codeGone
	}
}
