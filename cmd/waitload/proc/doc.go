// Package proc holds a mode's waiters in other processes: one process can
// hold only as many connections as it may open files (20,000 on the
// reference machine, a hard limit). With -procs n, waitload runs itself n
// times as holder processes, each with its own limit and share of the
// waiters, while the first process stays the single producer and reporter,
// with one clock for latencies (holders report wall-clock receipt times).
//
// The protocol is JSON: the holder reads its waiter.Spec on stdin, writes
// its counts every progressEvery on stdout and, before it exits, a last
// message with every outcome; its stderr is the parent's. A Child's reader
// goroutine has finished when Wait returns; Start's context kills the
// process.
package proc
