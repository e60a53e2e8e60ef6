// Package admission decides who may connect and who may wait: the caps on
// client connections (Conns, with its accept loop Listener) and on held
// waiters (Waiters), in all and per client address (ClientAddr, Key).
//
// Connections. Conns counts every open client connection, idle ones
// included, in all and per TCP peer (no header can dodge it; a trusted
// proxy is counted in all only). From seven eighths of the cap on, a
// connection admitted closes the one idle longest; a busy one is never
// closed for room. Past the cap, with none idle, Listener accepts a
// connection, writes it Config.Refusal without blocking and closes it.
// Accept errors never end the accept loop. Refusals and accept errors are
// logged as episodes: a line when one begins and one when it is over.
//
// Waiters. Waiters counts held long polls and streams (one each, however
// many jobs) in all and per client address, the forwarded one behind a
// trusted proxy; a refusal is ErrFull or ErrAddrFull.
//
// Concurrency. Every method is safe for concurrent use; each step is O(1)
// under one lock, counters are atomics. A connection's slot is given back
// once, by whoever closes it first. Listener.Accept runs in one goroutine,
// Close in any; nothing here starts a goroutine.
package admission
