// Package producer plays the AI service: it writes a mode's jobs through
// package store exactly as a real producer does, so that jobwait sees only
// ordinary Redis writes, and completes them in order at a chosen rate,
// noting when each completion was due, started and returned. Against the
// bench's peer it publishes each completion through a Writer of package nchan.
//
// A Producer keeps Workers writes in flight, on goroutines started and waited
// for within each call; the first error stops the rest.
package producer
