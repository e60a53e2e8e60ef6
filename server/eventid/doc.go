// Package eventid writes and reads the ids of jobwait's server-sent events:
// what a reconnecting client's Last-Event-ID proves, so that a stream
// resumed on any replica keeps its deadline and, for a many-job stream,
// resends no final event the client had and loses none it missed. The
// last event's id ends in "-end": a client resuming from it is told to
// stop. Deadline is the one rule of a resumed deadline: no id, genuine or
// forged, buys more than one budget.
//
// Everything here is a pure function of its arguments: no state, no
// clock, no I/O; safe for concurrent use. Parsing never trusts its input.
package eventid
