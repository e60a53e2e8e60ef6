// Package admission decides who may connect and who may wait: the caps on
// client connections (Conns, with the accept loop of its Listener) and on
// held waiters (Waiters), in all and per client address, and what a
// client's address is (ClientAddr, Key).
//
// # Connections
//
// Conns counts every open client connection, idle ones included, against
// a cap in all and a cap per address (the TCP peer's: no header is read to
// admit a connection, so none can be forged to dodge it; a trusted proxy
// is counted in all only). Each connection is in one phase: quiet (no
// byte read yet: the first-byte deadline runs), busy (in a request, its
// response or a held wait), idle (between requests: reclaimable) or gone.
// From seven eighths of the cap on, a connection admitted closes the one
// idle longest; one in a request or a held wait is never closed for room.
// Past the cap, with none idle, the Listener accepts a connection and at
// once writes it Config.Refusal (never blocking) and closes it, rather
// than leave the client in the listen backlog. Accept errors (out of
// descriptors above all) never end the accept loop: it backs off, and out
// of descriptors it refuses a pending connection on a spare one. Refusals
// and accept errors are logged as episodes: a line when one begins and one
// when it is over, never one per connection.
//
// # Waiters
//
// Waiters counts the held long polls and streams (one each, however many
// jobs it lists) against a cap in all and one per client address, where
// the client is the forwarded one when the peer is a trusted proxy. A
// refusal is ErrFull or ErrAddrFull; the caller answers it.
//
// # Concurrency
//
// Every method is safe for concurrent use. Each step of Conns is O(1)
// under one lock (a map of counts per address and an intrusive list of
// idle connections, never a scan); its counters are atomics read without
// it (Stats). A connection's slot is given back exactly once, by whoever
// closes it first (fasthttp, a held wait, a reclaim), however often it is
// closed. Listener.Accept is called from one goroutine, Close from any;
// nothing here starts a goroutine.
package admission
