// Package producer plays the AI service: it writes a mode's jobs through
// package store exactly as a real producer does, so that jobwait sees
// nothing but ordinary Redis writes, and completes them in order at a
// chosen rate, noting when each completion was due, started and returned.
// Against the bench's peer it publishes each completion instead, through a
// Writer that package nchan provides.
//
// A Producer keeps Workers writes in flight: one goroutine each, started and
// waited for within each call; the first error stops the rest.
package producer
