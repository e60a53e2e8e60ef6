// Package held runs jobwait's held connections: a long poll or stream that
// must wait is taken over from fasthttp (Takeover.Hold), written on the
// bare socket (Conn: its framing, its writes, its deadline), moved by its
// jobs' changes, its clock and shutdown without a goroutine of its own
// (Conn.Watch), and ended: handed back to fasthttp for the client's next
// request, closed gracefully or at once, or dropped.
//
// # What it owns
//
// A Conn, once taken over, is the takeover's until its response ends: the
// handler that held it has copied what the wait needs out of fiber.Ctx and
// never touches the Ctx again (fasthttp reuses it). serve, then the
// script, write the whole response through the Conn and never close it:
// how the response ended (recorded by the write that ended it) decides the
// connection's fate, which the takeover carries out. done, the wait's
// release, runs exactly once: when the response ends, or, when fasthttp
// closes the connection before its hijack handler runs, from fasthttp's
// StateClosed instead. A connection goes back to fasthttp only once the
// client's next request begins, so that fasthttp's read timeout does not
// apply to an idle client.
//
// # Concurrency
//
// One writer at a time, under the Conn's lock: the hub's fan-out (a job's
// change, Script.Change), which never blocks, and goroutines that may
// block (serve, the clock's fires, shutdown, the write of what a push
// left). A change that finds the lock taken is marked pending and taken by
// the holder before it lets go: no change is lost, none waits, and a wait
// of many jobs is woken and written exactly as a wait of one.
//
// # Backpressure
//
// A push writes what the socket takes at once and keeps the rest (the
// shared bodies themselves, never copied; its own head copied): a
// borrowed goroutine writes it by the response's one deadline, the wait's
// end plus WriteGrace plus the response's size at the minimum read rate.
// Nothing more is written until it is; a client that reads slower than the
// rate is cut off at the deadline and its wait released. A slow client
// never delays the fan-out or another client.
//
// # Shutdown
//
// Stop makes every idle connection close and refuses every later
// hand-back; the server then ends the quit context its waits watch (long
// polls answer, streams are cut as dropped connections), waits for the
// connections already on their way back to be counted by fasthttp
// (HandedIn), shuts fasthttp down, and waits for the last hold to end
// (Drained).
package held
