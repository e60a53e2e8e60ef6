// Package held runs jobwait's held connections: a long poll or stream that
// must wait is taken over from fasthttp (Takeover.Hold), written on the bare
// socket (Conn), moved by its jobs' changes, its clock and shutdown with no
// goroutine of its own (Watch), and ended: handed back to fasthttp once the
// client's next request begins, closed gracefully or at once, or dropped.
//
// Ownership. The handler copies what the wait needs out of fiber.Ctx before
// Hold and never touches it after (fasthttp reuses it). The write that ends
// the response records how, which decides the connection's fate. done runs
// once: when the response ends, or at StateClosed if fasthttp closes the
// connection before handing it over.
//
// Concurrency. One writer at a time, under the Conn's lock: the hub's
// fan-out (Script.Change), which never blocks, or a goroutine that may (the
// clock, shutdown, the write of what a push left). A change that finds the
// lock taken is marked pending and taken by the holder before it lets go.
//
// Backpressure. A push writes what the socket takes at once and keeps the
// rest, uncopied, for a goroutine to write by the response's deadline
// (WriteGrace): a slower client is cut off, and delays no other.
//
// Shutdown. Stop closes idle connections and refuses later hand-backs; the
// server ends its waits' quit context, waits for HandedIn, shuts fasthttp
// down and waits for Drained.
package held
