// Package nchan is the server side of waitload's peer: nginx with the Nchan
// module, its channels kept in the same Redis (nchan.conf: one channel per
// job). Against Nchan, waitload does what it does against jobwait with the
// same numbers, on the same clock: a completion is one POST to
// /nchan/pub/{job} of the very body jobwait would answer, as a completed
// event (Publisher, a producer.Writer), and latency runs from that POST's
// return; memory is the nginx worker's RSS, held waiters are
// nchan_stub_status's subscribers (Stats). The waiters' side is in package
// waiter. Both types are safe for concurrent use.
package nchan
