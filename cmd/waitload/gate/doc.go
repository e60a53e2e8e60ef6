// Package gate decides whether a run passed, for a CI job to act on. Two
// things fail a run: a threshold given with -threshold that a mode's figures
// do not meet, in the manner of k6 (sse.p99<250ms, errors<1%,
// delivered>=99%), and, whatever the thresholds, a mode in which most waits
// failed: such a run measured no server. Thresholds are parsed and checked
// for sense before the run starts; Judge applies them to the report after
// it. Nothing here does I/O.
package gate
