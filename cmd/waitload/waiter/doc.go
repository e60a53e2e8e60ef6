// Package waiter holds the load tester's waiters: the clients of each way of
// waiting (SPEC.md §3–5 and §8) against jobwait, and of Nchan's two
// subscribers against the bench's peer, each on its own HTTP/1.1 connection.
//
// A Holder holds one process's share of a mode's waiters (a Spec): one
// goroutine per waiter (per stream in ModeSSEMany), all started by Start and
// all finished when Wait returns. Each waiter ends with one Outcome; Counts
// may be read while they run. Nothing outlives the Spec's Deadline or the
// context given to Start: when either ends, every open connection is made to
// fail at once, since a blocked read sees no context.
//
// A waiter is one goroutine, one connection and one small read buffer, so
// that tens of thousands fit in a process: requests are written by hand and
// answers read with http.ReadResponse, so an answer's receipt time is taken
// when its last byte is read, with no transport in between.
package waiter
