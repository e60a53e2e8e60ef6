package held

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Takeover takes waiting connections over from a fasthttp server and gives
// them back. What it relies on of fasthttp (HijackSetNoResponse writes
// nothing and, with KeepHijackedConns, nothing closes the connection;
// StateClosed, never StateHijacked, for a hijack that never ran; the
// hijacked connection's UnsafeConn and buffered reader; ServeConn's states
// and read timeout) is pinned by takeover_test.go.
type Takeover struct {
	fast  *fasthttp.Server
	rate  int64 // the slowest reading a held response is sure to be written to whole
	idler Idler

	pending sync.Map     // net.Conn -> *Conn: holds not yet handed over (see Hold)
	live    atomic.Int64 // held waits; unlike a WaitGroup's count, it may grow while Drained waits

	mu       sync.Mutex
	shutting bool                  // Stop has run: nothing goes back to fasthttp
	idle     map[net.Conn]struct{} // answered, awaiting their next request (see handBack)
	handing  map[net.Conn]struct{} // handed back, not yet counted by fasthttp
	handingN atomic.Int32          // len(handing), read without the lock
}

// Idler is told when a connection rests between requests, and when its next
// request begins: false if it was reclaimed meanwhile (see admission.Conns).
type Idler interface {
	Rest(c net.Conn)
	Wake(c net.Conn) bool
}

// NewTakeover returns the held-connection machinery of fast, whose
// ConnState it sets (chain others after). A held response must be readable
// at rate bytes per second (see WriteGrace).
func NewTakeover(fast *fasthttp.Server, rate int, idler Idler) *Takeover {
	t := &Takeover{fast: fast, rate: int64(rate), idler: idler,
		idle: make(map[net.Conn]struct{}), handing: make(map[net.Conn]struct{})}
	fast.KeepHijackedConns = true
	fast.ConnState = t.connState
	return t
}

// Hold takes the connection of c over from fasthttp and runs serve on it in
// a goroutine the takeover owns, for a wait that ends at end: serve writes
// the first answer or events, then ends the response or Watches. done runs
// once, with the status sent (CodeGone if none). The handler returns nil
// after Hold, and never touches c again.
func (t *Takeover) Hold(c *fiber.Ctx, end time.Time, done func(code int), serve func(h *Conn)) {
	// A wait resumed after its end (a stream reconnecting late) gets a write
	// deadline counted from now: from its end, it could pass before a byte.
	if now := time.Now(); end.Before(now) {
		end = now
	}
	h := &Conn{
		t:         t,
		done:      done,
		extra:     passHeaders(&c.Response().Header),
		keepAlive: !c.Request().Header.ConnectionClose() && c.Request().Header.IsHTTP11(),
		chunked:   c.Request().Header.IsHTTP11(),
		headOnly:  c.Method() == fiber.MethodHead,
		end:       end,
		rate:      t.rate,
		code:      CodeGone,
	}
	conn := c.Context().Conn()
	t.live.Add(1)
	t.pending.Store(conn, h)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(nc net.Conn) {
		if _, ok := t.pending.LoadAndDelete(conn); !ok {
			return // released by connState already
		}
		if pipelined(nc) {
			// The next request sits in fasthttp's reader, which goes back to
			// its pool now: answer with Connection: close; the client resends.
			h.keepAlive, h.behind = false, true
		}
		if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
			nc = u.UnsafeConn()
		}
		h.conn = nc
		h.pushable()
		// Return at once: fasthttp frees the request's context and buffers.
		go func() {
			serve(h)
			if !h.watching {
				if !h.Over() { // serve wrote no end: nothing sound is left to send
					h.finish(endGone)
				}
				t.release(h, false)
			}
		}()
	})
}

// release runs the wait's done, then the connection's fate as its ending
// says, unless it is closed already.
func (t *Takeover) release(h *Conn, closed bool) {
	h.done(h.code)
	t.live.Add(-1)
	nc := h.conn
	switch {
	case closed:
	case h.ended == endReuse:
		t.handBack(nc)
	case h.ended == endClose, h.ended == endDone && !closedAtOnce(nc, h.behind):
		closeGracefully(nc)
	case h.ended == endDrop:
		drop(nc, h.chunked)
	case h.ended == endGone:
		nc.Close()
	}
}

// handBack gives a kept-alive connection back to fasthttp once its next
// request begins: fasthttp's idle timeout applies while it waits, not the
// header read timeout that ServeConn starts at once. Nothing is handed back
// once Stop has run.
func (t *Takeover) handBack(nc net.Conn) {
	t.mu.Lock()
	if t.shutting || nc.SetReadDeadline(time.Now().Add(t.fast.IdleTimeout)) != nil {
		t.mu.Unlock()
		closeGracefully(nc)
		return
	}
	t.idle[nc] = struct{}{}
	t.mu.Unlock()
	t.idler.Rest(nc)
	st := peek(nc, true)
	t.mu.Lock()
	delete(t.idle, nc)
	t.mu.Unlock()
	// Reclaimed while idle, the connection reads EOF; should its next request
	// have come first, it is shut down all the same.
	woken := t.idler.Wake(nc)
	switch {
	case st == peekEOF:
		nc.Close() // the client closed first: a plain close sends no reset
		return
	case st != peekData || !woken || nc.SetReadDeadline(time.Time{}) != nil:
		closeGracefully(nc)
		return
	}
	t.mu.Lock()
	if t.shutting {
		t.mu.Unlock()
		closeGracefully(nc)
		return
	}
	t.handing[nc] = struct{}{} // until fasthttp counts it (see connState)
	t.handingN.Add(1)
	t.mu.Unlock()
	_ = t.fast.ServeConn(nc)
	t.handed(nc) // in case ServeConn refused it without a state change
}

// handed takes nc off the connections being handed back, if it is there.
func (t *Takeover) handed(nc net.Conn) {
	if t.handingN.Load() == 0 {
		return
	}
	t.mu.Lock()
	if _, ok := t.handing[nc]; ok {
		delete(t.handing, nc)
		t.handingN.Add(-1)
	}
	t.mu.Unlock()
}

// Stop begins the shutdown: nothing is handed back to fasthttp from now on,
// and every connection awaiting its next request is closed.
func (t *Takeover) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shutting = true
	for c := range t.idle {
		_ = c.SetReadDeadline(time.Unix(1, 0)) // wake handBack: it closes c
	}
}

// HandedIn waits until fasthttp has counted every connection handed back
// (so that its shutdown sees and ends them), or ctx ends.
func (t *Takeover) HandedIn(ctx context.Context) error {
	return settle(ctx, func() bool { return t.handingN.Load() == 0 })
}

// Drained waits until no held wait is left, or ctx ends.
func (t *Takeover) Drained(ctx context.Context) error {
	return settle(ctx, func() bool { return t.live.Load() == 0 })
}

// Live is the number of held waits: taken over, or about to be.
func (t *Takeover) Live() int { return int(t.live.Load()) }

// settle waits until cond holds, or ctx ends.
func settle(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// connState releases a hold whose connection fasthttp closed before the
// hijack, and notes when fasthttp has taken a handed-back connection in.
func (t *Takeover) connState(c net.Conn, st fasthttp.ConnState) {
	if st != fasthttp.StateNew {
		t.handed(c) // counted by fasthttp now, or gone
	}
	if st != fasthttp.StateClosed {
		return
	}
	if h, ok := t.pending.LoadAndDelete(c); ok {
		h.(*Conn).done(CodeGone)
		t.live.Add(-1)
	}
}

// pipelined reports whether another request waits in the hijacked
// connection's buffer: a read past its deadline returns only buffered bytes.
func pipelined(nc net.Conn) bool {
	if nc.SetReadDeadline(time.Unix(1, 0)) != nil {
		return true
	}
	var b [1]byte
	n, _ := nc.Read(b[:])
	return nc.SetReadDeadline(time.Time{}) != nil || n > 0
}
