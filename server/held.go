package server

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Held connections: the takeover of a waiting client's connection from
// fasthttp, and its return.
//
// A long poll or stream that must wait is not left on a fasthttp worker:
// its handler calls holds.hold and returns, fasthttp hijacks the
// connection without writing a response, and serve runs in a goroutine
// that holds owns, on the bare socket (a heldConn). A many-job wait stays
// in that goroutine to its end; a one-job wait writes its first answer or
// event there and goes on without a goroutine (endHeld, see heldWait). The
// rules:
//
//   - The handler copies what the wait needs out of fiber.Ctx before hold,
//     and never touches the Ctx after: fasthttp reuses it.
//   - serve (and a heldWait after it) writes the whole response and never
//     closes the connection but as endClosed says: it reports how the
//     response ended (an ending), and holds closes the connection
//     (gracefully, as a drop, or at once) or hands it back to fasthttp,
//     which owns it from then on.
//   - done (the wait's release: its hub waiters, its admission) runs exactly
//     once: when the response ends (h.release), or, when fasthttp closes the connection
//     before its hijack handler runs (a pipelined answer ahead of it failed
//     to write), from ConnState's StateClosed instead. The wait is counted
//     in the metrics once, with the status its response carried (codeGone
//     if none).
//   - A connection goes back to fasthttp only once the client's next
//     request begins (awaitNext), so that fasthttp's read timeout, which
//     ServeConn starts at once, does not apply to an idle client.
//   - Shutdown: stop makes every idle connection close and refuses every
//     later hand-back; the server then ends its quit context (each wait
//     ends: long polls answer, streams drop), waits for the connections
//     already on their way back to be counted by fasthttp (handedIn), shuts
//     fasthttp down, and waits for the last hold to end (drained).
//
// What this relies on of fasthttp (HijackSetNoResponse writes nothing and,
// with KeepHijackedConns, nothing closes the connection; StateClosed, never
// StateHijacked, for a hijack that never ran; the hijacked connection's
// UnsafeConn and buffered reader; ServeConn's states and read timeout) is
// pinned by takeover_test.go.
type holds struct {
	fast  *fasthttp.Server // what connections are handed back to
	rate  int64            // Config.MinReadRate
	sent  func(route string, code int)
	conns idler // told when a connection awaits its next request (see awaitNext)

	pending sync.Map // net.Conn -> func(): holds not yet handed over (see hold)

	mu       sync.Mutex
	shutting bool                  // stop has run: nothing goes back to fasthttp
	live     int                   // held waits (see enter); drained waits for none
	idle     map[net.Conn]struct{} // answered, awaiting their next request (see handBack)
	handing  map[net.Conn]struct{} // handed back, not yet counted by fasthttp
	handingN atomic.Int32          // len(handing), read without the lock
}

// idler is told when a connection rests between requests, and when its
// next request begins: false if the connection cap reclaimed it meanwhile
// (see admission.Conns).
type idler interface {
	Rest(c net.Conn)
	Wake(c net.Conn) bool
}

// newHolds returns the held-connection machinery of fast, whose hijacked
// connections it keeps and whose connection states it watches. A held
// response must be readable at rate bytes per second (see writeGrace);
// sent counts each held wait once, by its route and the status sent;
// conns is told when a connection awaits its next request.
func newHolds(fast *fasthttp.Server, rate int, sent func(route string, code int), conns idler) *holds {
	hs := &holds{fast: fast, rate: int64(rate), sent: sent, conns: conns,
		idle: make(map[net.Conn]struct{}), handing: make(map[net.Conn]struct{})}
	fast.KeepHijackedConns = true
	fast.ConnState = hs.connState
	return hs
}

// drainTime and drainBytes bound what a connection closed after its answer
// reads and discards of what the client sent behind its request, so that
// close sends no reset, which would drop the answer's unsent tail.
const (
	drainTime  = 2 * time.Second
	drainBytes = 1 << 20
)

// ending is how a held response ended, which decides the connection's fate.
type ending int

const (
	endReuse  ending = iota // complete; the connection may carry another request
	endClose                // complete; close it gracefully
	endDone                 // complete, announced as the connection's last: close it at once (see closeDone)
	endClosed               // complete, and closed already (see heldWait.unlock)
	endDrop                 // cut by shutdown: must look like a dropped connection
	endGone                 // the client left or stopped reading: close at once
	endHeld                 // not yet: the wait goes on without serve's goroutine (heldWait), and releases itself
)

// hold takes the connection of c over from fasthttp and runs serve on it in
// a goroutine holds owns, for a wait that ends at end; done runs exactly
// once after (see the rules above), from h.release: when serve returns, or
// when a wait serve left to go on without it (endHeld) ends. The handler
// returns nil after hold.
func (hs *holds) hold(c *fiber.Ctx, end time.Time, done func(), serve func(h *heldConn) ending) {
	// A wait resumed after its end (a stream reconnecting late) is answered
	// at once, by a write deadline counted from now: from its end, the
	// deadline could be past before the first byte.
	if now := time.Now(); end.Before(now) {
		end = now
	}
	h := &heldConn{
		extra:     passHeaders(&c.Response().Header),
		keepAlive: !c.Request().Header.ConnectionClose() && c.Request().Header.IsHTTP11(),
		chunked:   c.Request().Header.IsHTTP11(),
		headOnly:  c.Method() == fiber.MethodHead,
		end:       end,
		rate:      hs.rate,
		code:      codeGone,
	}
	route, _ := c.Locals(routeKey).(string)
	c.Locals(heldKey, true) // counted here, not by the metrics middleware
	conn := c.Context().Conn()
	hs.enter()
	hs.pending.Store(conn, func() {
		done()
		hs.sent(route, codeGone)
	})
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(nc net.Conn) {
		if _, ok := hs.pending.LoadAndDelete(conn); !ok {
			return // released by connState already
		}
		if pipelined(nc) {
			// The client sent its next request behind this one; it sits in
			// fasthttp's reader, which goes back to its pool now. Answer
			// with Connection: close, and the client sends it again.
			h.keepAlive, h.behind = false, true
		}
		if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
			nc = u.UnsafeConn()
		}
		h.conn = nc
		h.pushable()
		h.release = func(e ending) {
			done()
			hs.sent(route, h.code)
			hs.exit()
			if e == endReuse && !h.keepAlive {
				e = endClose
			}
			switch e {
			case endReuse:
				hs.handBack(nc)
			case endClose:
				closeGracefully(nc)
			case endDone:
				closeDone(nc, h.behind)
			case endClosed:
			case endDrop:
				drop(nc, h.chunked)
			default:
				nc.Close()
			}
		}
		// Return at once: fasthttp then frees the request's context and
		// buffers, which a wait does not need.
		go func() {
			if e := serve(h); e != endHeld {
				h.release(e)
			}
		}()
	})
}

// handBack gives a kept-alive connection back to fasthttp once its next
// request begins: fasthttp's idle timeout applies while it waits, not its
// header read timeout, which fasthttp starts at once on a connection it is
// given. Nothing is handed back once stop has run.
func (hs *holds) handBack(nc net.Conn) {
	if ok, closed := hs.awaitNext(nc); !ok {
		if closed {
			// The client closed first and sent nothing more: nothing to
			// drain, and a plain close sends no reset. This saves a
			// half-close and a read per answered wait.
			nc.Close()
			return
		}
		closeGracefully(nc)
		return
	}
	hs.mu.Lock()
	if hs.shutting {
		hs.mu.Unlock()
		closeGracefully(nc)
		return
	}
	hs.handing[nc] = struct{}{} // until fasthttp counts it (see connState)
	hs.handingN.Add(1)
	hs.mu.Unlock()
	_ = hs.fast.ServeConn(nc)
	hs.handed(nc) // in case ServeConn refused it without a state change
}

// handed takes nc off the connections being handed back, if it is there.
func (hs *holds) handed(nc net.Conn) {
	if hs.handingN.Load() == 0 {
		return
	}
	hs.mu.Lock()
	if _, ok := hs.handing[nc]; ok {
		delete(hs.handing, nc)
		hs.handingN.Add(-1)
	}
	hs.mu.Unlock()
}

// awaitNext waits, up to the server's idle timeout, for the first byte of the
// connection's next request; false if the client closed it (closed then
// says so, see readable), the time ran out or stop has run.
func (hs *holds) awaitNext(nc net.Conn) (ok, closed bool) {
	hs.mu.Lock()
	if hs.shutting || nc.SetReadDeadline(time.Now().Add(idleTimeout)) != nil {
		hs.mu.Unlock()
		return false, false
	}
	hs.idle[nc] = struct{}{}
	hs.mu.Unlock()
	hs.conns.Rest(nc)
	ok, closed = readable(nc)
	hs.mu.Lock()
	delete(hs.idle, nc)
	hs.mu.Unlock()
	// Reclaimed while idle, the connection reads EOF (closed); should its
	// next request have come first, it is shut down all the same.
	return hs.conns.Wake(nc) && ok && nc.SetReadDeadline(time.Time{}) == nil, closed
}

// enter counts a held wait; exit uncounts it. drained waits until none is
// counted. Unlike a WaitGroup's, enter may run while drained waits.
func (hs *holds) enter() {
	hs.mu.Lock()
	hs.live++
	hs.mu.Unlock()
}

func (hs *holds) exit() {
	hs.mu.Lock()
	hs.live--
	hs.mu.Unlock()
}

// stop begins the shutdown: nothing is handed back to fasthttp from now
// on, and every connection awaiting its next request is closed.
func (hs *holds) stop() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.shutting = true
	for c := range hs.idle {
		_ = c.SetReadDeadline(time.Unix(1, 0)) // wake awaitNext: it closes c
	}
}

// handedIn waits until fasthttp has counted every connection handed back
// (so that its shutdown sees and ends them), or ctx ends.
func (hs *holds) handedIn(ctx context.Context) error {
	return hs.settle(ctx, func() bool { return len(hs.handing) == 0 })
}

// drained waits until no held wait is left, or ctx ends.
func (hs *holds) drained(ctx context.Context) error {
	return hs.settle(ctx, func() bool { return hs.live == 0 })
}

// settle waits until cond holds (under hs.mu), or ctx ends.
func (hs *holds) settle(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		hs.mu.Lock()
		ok := cond()
		hs.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// connState releases a hold whose connection fasthttp closed before
// handing it over, and notes when fasthttp has taken a handed-back
// connection in (see handBack, handedIn).
func (hs *holds) connState(c net.Conn, st fasthttp.ConnState) {
	if st != fasthttp.StateNew {
		hs.handed(c) // counted by fasthttp now, or gone
	}
	if st != fasthttp.StateClosed {
		return
	}
	if release, ok := hs.pending.LoadAndDelete(c); ok {
		release.(func())()
		hs.exit()
	}
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

// closeDone closes a connection whose last response is complete and said
// so (Connection: close): at once, a FIN behind the response, as the client
// expects. Only a client that sent more (pipelined behind the request, or
// since) would be reset by that and lose the response's tail: its
// connection is closed gracefully instead.
func closeDone(nc net.Conn, behind bool) {
	if !closedAtOnce(nc, behind) {
		closeGracefully(nc)
	}
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
