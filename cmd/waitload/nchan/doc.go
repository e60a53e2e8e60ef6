// Package nchan is the server side of waitload's peer: nginx with the Nchan
// module, its channels kept in the same Redis (nchan.conf sets it up, with
// one channel per job). Against Nchan, waitload does what it does against
// jobwait with the same numbers, on the same clock:
//
//   - a completion is one HTTP POST to /nchan/pub/{job} of the very body
//     jobwait would answer, with X-EventSource-Event: completed, so that a
//     stream sees the event jobwait sends (Publisher, a producer.Writer);
//   - latency runs from that POST's answer having returned (where jobwait's
//     runs from the status SET having returned) to the waiter having read
//     the whole event or answer;
//   - memory is the nginx worker's RSS (/proc/{pid}/status, the pid from
//     /nchan/pid), held waiters are nchan_stub_status's subscribers, and
//     Redis commands are counted as for jobwait (Stats).
//
// The waiters' side, Nchan's EventSource and long-poll subscribers, is in
// package waiter with jobwait's. Both types are safe for concurrent use.
package nchan
