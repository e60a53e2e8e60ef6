// Package held runs jobwait's held connections: a long poll or stream that
// must wait is taken over from fasthttp (Takeover.Hold), written on the
// bare socket (Conn: framing, writes, deadline), moved by its jobs'
// changes, its clock and shutdown without a goroutine of its own (Watch),
// and ended: handed back to fasthttp for the client's next request, closed
// gracefully or at once, or dropped.
//
// Ownership. The handler copies what the wait needs out of fiber.Ctx
// before Hold and never touches the Ctx after (fasthttp reuses it). From
// then on the Conn is the takeover's: serve and the script write the
// whole response and never close it; the write that ends the response
// records how (ending.then is the one rule), and that decides the
// connection's fate, carried out by the takeover. done runs exactly once:
// when the response ends, or from fasthttp's StateClosed when fasthttp
// closes the connection before handing it over. A connection goes back to
// fasthttp only once the client's next request begins, so that fasthttp's
// read timeout does not apply to an idle client.
//
// Concurrency. One writer at a time, under the Conn's lock: the hub's
// fan-out (Script.Change), which never blocks, and goroutines that may
// (serve, the clock, shutdown, the write of what a push left). A change
// that finds the lock taken is marked pending and taken by the holder
// before it lets go: none is lost, none waits, and a wait of many jobs is
// woken and written exactly as a wait of one.
//
// Backpressure. A push writes what the socket takes at once and keeps the
// rest (shared bodies are kept, never copied); a borrowed goroutine writes
// it by the response's one deadline: the wait's end, plus WriteGrace, plus
// its size at the minimum read rate. A client slower than that is cut off
// and its wait released; no client ever delays the fan-out or another.
//
// Shutdown. Stop closes every idle connection and refuses later
// hand-backs; the server ends its waits' quit context (long polls answer,
// streams drop), waits for connections on their way back (HandedIn),
// shuts fasthttp down and waits for the last hold (Drained).
package held
