// Package admission decides who may connect and who may wait: the caps on
// client connections (Conns, with its accept loop, Listener) and on held
// waiters (Waiters), in all and per client address, and what a client's
// address is (ClientAddr, Key).
//
// Connections. Conns counts every open client connection, idle ones
// included, in all and per address: the TCP peer's (no header can be
// forged to dodge it; a trusted proxy is counted in all only). Each
// connection is quiet (no byte yet: the first-byte deadline runs), busy,
// idle (between requests: reclaimable) or gone. From seven eighths of the
// cap on, a connection admitted closes the one idle longest; a busy one is
// never closed for room. Past the cap, with none idle, Listener accepts a
// connection, writes it Config.Refusal without blocking and closes it.
// Accept errors never end the accept loop: it backs off, and out of
// descriptors refuses on a spare one. Refusals and accept errors are
// logged as episodes: a line when one begins and one when it is over.
//
// Waiters. Waiters counts held long polls and streams (one each, however
// many jobs) in all and per client address, the forwarded one behind a
// trusted proxy; a refusal is ErrFull or ErrAddrFull, for the caller to
// answer.
//
// Concurrency. Every method is safe for concurrent use; each step is O(1)
// under one lock (counts per address, an intrusive idle list), counters
// are atomics (Stats). A connection's slot is given back exactly once, by
// whoever closes it first, however often it is closed. Listener.Accept
// runs in one goroutine, Close in any; nothing here starts a goroutine.
package admission
