package server

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// writeTimeout bounds one write to a held connection: a client that stops
// reading is cut off then, and its waiter released.
const writeTimeout = 10 * time.Second

// held is a waiting client's connection, taken over from fasthttp once the
// wait is admitted and the job's first state is known. A held wait costs one
// small goroutine and the socket: no fasthttp worker, request context or
// per-connection buffers stay behind while it waits.
type held struct {
	conn      net.Conn
	extra     []byte // headers set before the takeover (CORS), as "K: v\r\n" lines
	keepAlive bool   // the client may send another request on the connection
	chunked   bool   // HTTP/1.1: a stream is chunked; HTTP/1.0: it ends with the connection
	headOnly  bool   // a HEAD request: headers only
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

// hold takes the connection over from fasthttp and runs serve on it in a
// goroutine the server owns. serve reports whether the response is complete
// and the connection may carry another request; fasthttp then serves it
// again, else it is closed. done releases what the wait holds (its waiter,
// its admission): it runs exactly once, after serve, or when fasthttp
// closes the connection without handing it over (a client that reset it
// while an earlier pipelined answer was being written).
func (s *Server) hold(c *fiber.Ctx, done func(), serve func(h *held) (reusable bool)) {
	h := &held{
		extra:     passHeaders(&c.Response().Header),
		keepAlive: !c.Request().Header.ConnectionClose() && c.Request().Header.IsHTTP11(),
		chunked:   c.Request().Header.IsHTTP11(),
		headOnly:  c.Method() == fiber.MethodHead,
	}
	conn := c.Context().Conn()
	s.waits.Add(1)
	s.pending.Store(conn, done)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(nc net.Conn) {
		if _, ok := s.pending.LoadAndDelete(conn); !ok {
			return // released by connState already
		}
		if pipelined(nc) {
			// The client sent its next request behind this one; it sits in
			// fasthttp's reader, which goes back to its pool now. Answer
			// with Connection: close, and the client sends it again.
			h.keepAlive = false
		}
		if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
			nc = u.UnsafeConn()
		}
		h.conn = nc
		// Return at once: fasthttp then frees the request's context and
		// buffers, which a wait does not need.
		go func() {
			reusable := serve(h)
			done()
			s.waits.Done()
			if reusable && h.keepAlive && !s.closing() {
				_ = s.app.Server().ServeConn(nc)
				return
			}
			nc.Close()
		}()
	})
}

// connState releases a hold whose connection fasthttp closed before
// handing it over.
func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	if st != fasthttp.StateClosed {
		return
	}
	if done, ok := s.pending.LoadAndDelete(c); ok {
		done.(func())()
		s.waits.Done()
	}
}

// pipelined reports whether bytes of another request wait in the hijacked
// connection's buffer: a read with a deadline already past returns them
// from the buffer, or fails at once without touching the socket.
func pipelined(nc net.Conn) bool {
	if nc.SetReadDeadline(time.Unix(1, 0)) != nil {
		return true
	}
	var b [1]byte
	n, _ := nc.Read(b[:])
	return nc.SetReadDeadline(time.Time{}) != nil || n > 0
}

// closing reports whether Shutdown has begun.
func (s *Server) closing() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
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

// write writes parts in one writev, with a deadline.
func (h *held) write(parts ...[]byte) error {
	if err := h.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	v := net.Buffers(parts)
	_, err := v.WriteTo(h.conn)
	return err
}

// head appends a response's status line and headers, without the blank line.
func (h *held) head(b []byte, code int, contentType string) []byte {
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
func (h *held) answer(code int, retryAfter int, body []byte) error {
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
	if h.headOnly {
		return h.write(b)
	}
	return h.write(b, body)
}
