package held

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// head appends a response's status line and headers, without the blank line.
func (h *Conn) head(b []byte, code int, contentType string) []byte {
	b = strconv.AppendInt(append(b, "HTTP/1.1 "...), int64(code), 10)
	b = append(append(b, ' '), fasthttp.StatusMessage(code)...)
	b = fasthttp.AppendHTTPDate(append(b, "\r\nDate: "...), time.Now())
	b = append(append(append(b, "\r\nContent-Type: "...), contentType...), "\r\n"...)
	b = append(b, h.extra...)
	if !h.keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	return b
}

// Reply writes a whole JSON answer and ends the response: as the
// connection's last (Connection: close, the FIN riding with it) when last,
// else leaving the connection to the client's next request if kept alive.
func (h *Conn) Reply(code, retryAfter int, body []byte, last bool) {
	if last {
		h.keepAlive, h.more = false, !h.behind
	}
	bp := bufs.Get().(*[]byte)
	defer putBuf(bp)
	b := append(h.head((*bp)[:0], code, fiber.MIMEApplicationJSON), "Cache-Control: no-store\r\n"...)
	if retryAfter > 0 {
		b = append(strconv.AppendInt(append(b, "Retry-After: "...), int64(retryAfter), 10), "\r\n"...)
	}
	b = append(strconv.AppendInt(append(b, "Content-Length: "...), int64(len(body)), 10), "\r\n\r\n"...)
	*bp = b
	if h.headOnly {
		body = nil
	}
	err := h.write(b, body)
	h.more = false
	switch {
	case err != nil:
		h.finish(endGone)
	case last:
		h.code = code
		h.finish(endDone)
	default:
		h.code = code
		h.finish(endReuse)
	}
}

// chunkDigits is the fixed width of an event chunk's hex size, filled in
// once the event is built (leading zeros are valid).
const chunkDigits = 8

// reconnectSpread is the range of the random delay a stream cut by shutdown
// adds to its reconnect, so that a stopping replica's clients spread out.
const reconnectSpread = 5 * time.Second

// keepalive is the heartbeat comment, as one chunk and bare (HTTP/1.0).
var keepalive = [2][]byte{[]byte("0000000d\r\n: keepalive\n\n\r\n"), []byte(": keepalive\n\n")}

// eventEnd ends an event and its chunk; finalEnd also ends the response.
var (
	eventEnd = []byte("\n\n\r\n")
	finalEnd = []byte("\n\n\r\n0\r\n\r\n")
)

// retryLine appends the "retry:" field of d, with the blank line.
func retryLine(b []byte, d time.Duration) []byte {
	return append(strconv.AppendInt(append(b, "retry: "...), d.Milliseconds(), 10), "\n\n"...)
}

// StreamHead returns a stream's response head and its first event's lead
// (the retry line). A stream is its connection's last response: an
// EventSource never sends another request on it.
func (h *Conn) StreamHead(retry time.Duration) (pre, lead []byte) {
	h.keepAlive = false
	pre = h.head(nil, fiber.StatusOK, "text/event-stream; charset=utf-8")
	pre = append(pre, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"...)
	if h.chunked {
		pre = append(pre, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(pre, "\r\n"...), retryLine(nil, retry)
}

// Event writes one event as one chunk in one write: pre (the response head)
// outside the chunk, lead (the retry line) inside it, and for a final event
// the last chunk. On HTTP/1.0 there are no chunks: the stream ends with the
// connection. False when the write failed: the client is gone.
func (h *Conn) Event(pre, lead, id []byte, name string, body []byte, final bool) bool {
	bp := bufs.Get().(*[]byte)
	defer putBuf(bp)
	b := append((*bp)[:0], pre...)
	start := len(b)
	if h.chunked {
		b = append(b, "00000000\r\n"...)
	}
	b = append(append(append(b, lead...), "id: "...), id...)
	b = append(append(append(b, "\nevent: "...), name...), "\ndata: "...)
	*bp = b
	tail := eventEnd[:2]
	if h.chunked {
		n := len(b) - start - chunkDigits - 2 + len(body) + 2 // the payload ends "\n\n"
		for i := start + chunkDigits - 1; i >= start; i-- {
			b[i] = "0123456789abcdef"[n&0xf]
			n >>= 4
		}
		tail = eventEnd
		if final {
			tail = finalEnd
		}
		h.more = final && !h.behind // a close follows
	}
	err := h.write(b, body, tail)
	h.more = false
	if err != nil {
		h.finish(endGone)
		return false
	}
	if final {
		h.finish(endDone)
	}
	return true
}

// Keepalive writes the heartbeat comment.
func (h *Conn) Keepalive() {
	m := keepalive[1]
	if h.chunked {
		m = keepalive[0]
	}
	if h.write(m) != nil {
		h.finish(endGone)
	}
}

// Drop ends a stream cut by shutdown as a dropped connection (see drop):
// each client reconnects with its Last-Event-ID, to another replica, after
// the poll interval plus a random part of reconnectSpread.
func (h *Conn) Drop(poll time.Duration) {
	msg := retryLine(nil, poll+rand.N(reconnectSpread))
	if h.chunked {
		b := strconv.AppendInt(nil, int64(len(msg)), 16)
		msg = append(append(append(b, "\r\n"...), msg...), "\r\n"...)
	}
	_ = h.write(msg)
	h.finish(endDrop)
}
