package server

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

// maxEventIDLen bounds what parseEventID looks at.
const maxEventIDLen = 64

// appendEventID appends the id of event seq of a stream ending at deadline.
func appendEventID(b []byte, deadline time.Time, seq uint64, final bool) []byte {
	b = strconv.AppendInt(b, deadline.UnixMilli(), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	if final {
		b = append(b, finalSuffix...)
	}
	return b
}

// resume is what a Last-Event-ID says about the stream it continues.
type resume struct {
	deadline time.Time // the original stream's deadline
	seq      uint64    // the last event's sequence number
	final    bool      // the last event ended the stream
}

// parseEventID reads a Last-Event-ID. ok is false for an absent or
// malformed id: the stream then starts afresh.
func parseEventID(s string) (r resume, ok bool) {
	if s == "" || len(s) > maxEventIDLen {
		return resume{}, false
	}
	s, r.final = strings.CutSuffix(s, finalSuffix)
	ms, seq, found := strings.Cut(s, "-")
	if !found {
		return resume{}, false
	}
	m, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil || m < 0 || n == math.MaxUint64 {
		// n == MaxUint64: no next event's sequence would follow it.
		return resume{}, false
	}
	r.deadline, r.seq = time.UnixMilli(m), n
	return r, true
}

// streamDeadline is when a stream opened at now ends: one budget from now,
// or the original stream's deadline if that comes first, so that no id,
// genuine or forged, buys more than one budget.
func streamDeadline(r resume, ok bool, now time.Time, budget time.Duration) time.Time {
	d := now.Add(budget)
	if ok && r.deadline.Before(d) {
		return r.deadline
	}
	return d
}
