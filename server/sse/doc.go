// Package sse reads a text/event-stream as the HTML standard's event
// stream interpretation does (what EventSource runs): a byte order mark
// skipped, CRLF, LF and lone CR line ends, comments, multi-line data, the
// last event ID kept across events and a retry: field taken only when it
// is all digits.
//
// It is the one client-side reader of jobwait's streams: waitload waits
// with it and the tests check jobwait's framing with it. A Reader is not
// safe for concurrent use.
package sse
