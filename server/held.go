package server

import (
	"io"
	"net"
	"strconv"
	"sync"
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

// drainTime and drainBytes bound what a connection closed after its answer
// reads and discards of what the client sent behind its request, so that
// close sends no reset, which would drop the answer's unsent tail.
const (
	drainTime  = 2 * time.Second
	drainBytes = 1 << 20
)

// codeGone is the status counted for a held wait whose client left (or
// stopped reading) before its answer was written: nothing was sent.
const codeGone = 499

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

	end  time.Time // the wait's end: the write deadline's base
	rate int64     // bytes per second a client may read at and be served whole
	sent int64     // bytes of the response so far
	code int       // the status counted: what the response carried; codeGone if nothing
}

// ending is how a held response ended, which decides the connection's fate.
type ending int

const (
	endReuse ending = iota // complete; the connection may carry another request
	endClose               // complete; close it gracefully
	endDrop                // cut by shutdown: must look like a dropped connection
	endGone                // the client left or stopped reading: close at once
)

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
// goroutine the server owns, for a wait that ends at end. serve reports how
// the response ended: a complete response on a kept-alive connection is
// handed back to fasthttp when the next request arrives, else the
// connection is closed (see ending). done releases what the wait holds (its
// waiter, its admission): it runs exactly once, after serve, or when
// fasthttp closes the connection without handing it over (a client that
// reset it while an earlier pipelined answer was being written). The wait is
// counted in the metrics once, with the status the response carried.
func (s *Server) hold(c *fiber.Ctx, end time.Time, done func(), serve func(h *held) ending) {
	h := &held{
		extra:     passHeaders(&c.Response().Header),
		keepAlive: !c.Request().Header.ConnectionClose() && c.Request().Header.IsHTTP11(),
		chunked:   c.Request().Header.IsHTTP11(),
		headOnly:  c.Method() == fiber.MethodHead,
		end:       end,
		rate:      int64(s.cfg.MinReadRate),
		code:      codeGone,
	}
	route, _ := c.Locals(routeKey).(string)
	c.Locals(heldKey, true) // counted here, not by the metrics middleware
	conn := c.Context().Conn()
	s.enter()
	s.pending.Store(conn, func() {
		done()
		s.metrics.sent(route, codeGone)
	})
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
			e := serve(h)
			done()
			s.metrics.sent(route, h.code)
			s.exit()
			if e == endReuse && !h.keepAlive {
				e = endClose
			}
			switch e {
			case endReuse:
				s.handBack(nc)
			case endClose:
				closeGracefully(nc)
			case endDrop:
				drop(nc, h.chunked)
			default:
				nc.Close()
			}
		}()
	})
}

// handBack gives a kept-alive connection back to fasthttp once its next
// request begins: fasthttp's idle timeout applies while it waits, not its
// header read timeout, which fasthttp starts at once on a connection it is
// given. Nothing is handed back once Shutdown has begun.
func (s *Server) handBack(nc net.Conn) {
	if !s.awaitNext(nc) {
		closeGracefully(nc)
		return
	}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		closeGracefully(nc)
		return
	}
	s.handing[nc] = struct{}{} // until fasthttp counts it (see connState)
	s.handingN.Add(1)
	s.mu.Unlock()
	_ = s.app.Server().ServeConn(nc)
	s.handed(nc) // in case ServeConn refused it without a state change
}

// handed takes nc off the connections being handed back, if it is there.
func (s *Server) handed(nc net.Conn) {
	if s.handingN.Load() == 0 {
		return
	}
	s.mu.Lock()
	if _, ok := s.handing[nc]; ok {
		delete(s.handing, nc)
		s.handingN.Add(-1)
	}
	s.mu.Unlock()
}

// awaitNext waits, up to the server's idle timeout, for the first byte of the
// connection's next request; false if the client closed it, the time ran
// out or Shutdown began.
func (s *Server) awaitNext(nc net.Conn) bool {
	s.mu.Lock()
	if s.shutting || nc.SetReadDeadline(time.Now().Add(idleTimeout)) != nil {
		s.mu.Unlock()
		return false
	}
	s.idle[nc] = struct{}{}
	s.mu.Unlock()
	ok := readable(nc)
	s.mu.Lock()
	delete(s.idle, nc)
	s.mu.Unlock()
	return ok && nc.SetReadDeadline(time.Time{}) == nil
}

// enter counts a held wait; exit uncounts it. Shutdown waits until none is
// counted. Unlike a WaitGroup's, enter may run while Shutdown waits.
func (s *Server) enter() {
	s.mu.Lock()
	s.live++
	s.mu.Unlock()
}

func (s *Server) exit() {
	s.mu.Lock()
	s.live--
	s.mu.Unlock()
}

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

// connState releases a hold whose connection fasthttp closed before
// handing it over, and notes when fasthttp has taken a handed-back
// connection in (see handBack, Shutdown).
func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	if st != fasthttp.StateNew {
		s.handed(c) // counted by fasthttp now, or gone
	}
	if st != fasthttp.StateClosed {
		return
	}
	if release, ok := s.pending.LoadAndDelete(c); ok {
		release.(func())()
		s.exit()
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

// write writes parts in one writev, by the response's deadline (see
// writeGrace), which grows with the response's bytes.
func (h *held) write(parts ...[]byte) error {
	for _, p := range parts {
		h.sent += int64(len(p))
	}
	if err := h.conn.SetWriteDeadline(writeDeadline(h.end, h.sent, h.rate)); err != nil {
		return err
	}
	v := net.Buffers(parts)
	_, err := v.WriteTo(h.conn)
	return err
}

// writeDeadline is when a held response of size bytes for a wait ending at
// end must be written by: end + writeGrace + size at rate bytes per second.
func writeDeadline(end time.Time, size, rate int64) time.Time {
	return end.Add(writeGrace + time.Duration(float64(size)/float64(rate)*float64(time.Second)))
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
