// Package servertest is the test kit of jobwait's HTTP surface, driven
// from outside as users and operators drive it:
//
//   - Start builds the real jobwait binary (cmd/jobwait) once per test
//     process and runs it on a free loopback port, against a real Redis;
//     under -short it skips the test (redistest.SkipIfShort). Run runs a
//     binary to its exit (-h, -version, a bad flag).
//   - Get and Conn send a request by hand and read its answer, an event
//     stream with package sse's reader, every read bounded by a deadline.
//   - From is a client address of its own on loopback (127.0.0.2, ...),
//     to play several clients.
//   - ReadMetrics and Metric read /metrics with Prometheus's own parser.
//
// The producer of jobs is storetest's; Eventually and Group are
// streamtest's. Nothing here is imported by jobwait's own packages.
package servertest
