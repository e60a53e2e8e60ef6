package eventid

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// An SSE event id carries the stream's deadline, so that a reconnect to any
// replica continues the same wait: "<deadline unix ms>-<seq>", and for the
// last event of a stream "<deadline unix ms>-<seq>-end".
const finalSuffix = "-end"

// MaxLen bounds what Parse looks at, and what Append writes.
const MaxLen = 64

// Append appends the id of event seq of a stream ending at deadline.
func Append(b []byte, deadline time.Time, seq uint64, final bool) []byte {
	b = strconv.AppendInt(b, deadline.UnixMilli(), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	if final {
		b = append(b, finalSuffix...)
	}
	return b
}

// Resume is what a Last-Event-ID says about the stream it continues.
type Resume struct {
	Deadline time.Time // the original stream's deadline
	Seq      uint64    // the last event's sequence number
	Final    bool      // the last event ended the stream
}

// Parse reads a Last-Event-ID. ok is false for an absent or malformed id:
// the stream then starts afresh.
func Parse(s string) (r Resume, ok bool) {
	if s == "" || len(s) > MaxLen {
		return Resume{}, false
	}
	s, r.Final = strings.CutSuffix(s, finalSuffix)
	ms, seq, found := strings.Cut(s, "-")
	if !found {
		return Resume{}, false
	}
	m, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil || m < 0 || n == math.MaxUint64 {
		// n == MaxUint64: no next event's sequence would follow it.
		return Resume{}, false
	}
	r.Deadline, r.Seq = time.UnixMilli(m), n
	return r, true
}

// Deadline is when a stream opened at now ends: one budget from now, or
// the original stream's deadline (prev, when resumed) if that comes first,
// so that no id, genuine or forged, buys more than one budget.
func Deadline(prev time.Time, resumed bool, now time.Time, budget time.Duration) time.Time {
	d := now.Add(budget)
	if resumed && prev.Before(d) {
		return prev
	}
	return d
}
