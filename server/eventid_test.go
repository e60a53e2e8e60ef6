package server

import (
	"strings"
	"testing"
	"time"
)

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in   string
		want resume
		ok   bool
	}{
		{"1700000000000-1", resume{deadline: time.UnixMilli(1700000000000), seq: 1}, true},
		{"1700000000000-42-end", resume{deadline: time.UnixMilli(1700000000000), seq: 42, final: true}, true},
		{"0-0", resume{deadline: time.UnixMilli(0), seq: 0}, true},
		{"99999999999999-7", resume{deadline: time.UnixMilli(99999999999999), seq: 7}, true},
		{"1-18446744073709551614", resume{deadline: time.UnixMilli(1), seq: 18446744073709551614}, true},
		// Absent or malformed: a fresh stream.
		{"", resume{}, false},
		{"abc", resume{}, false},
		{"1700000000000", resume{}, false},
		{"1700000000000-", resume{}, false},
		{"-1", resume{}, false},
		{"-5-1", resume{}, false},
		{"1700000000000--end", resume{}, false},
		{"1700000000000-1-END", resume{}, false},
		{"1700000000000-1-2", resume{}, false},
		{"1700000000000-x", resume{}, false},
		{"1700000000000-1-end-end", resume{}, false},
		{"17e11-1", resume{}, false},
		{" 1700000000000-1", resume{}, false},
		{"99999999999999999999-1", resume{}, false}, // deadline overflows int64
		{"1-99999999999999999999", resume{}, false}, // seq overflows uint64
		{"1-18446744073709551615", resume{}, false}, // no next seq: it would wrap to 0
		{"1-18446744073709551615-end", resume{}, false},
		{"1-" + strings.Repeat("0", 62) + "1", resume{}, false}, // 65 characters
	}
	for _, tt := range tests {
		got, ok := parseEventID(tt.in)
		if ok != tt.ok || !got.deadline.Equal(tt.want.deadline) || got.seq != tt.want.seq || got.final != tt.want.final {
			t.Errorf("parseEventID(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEventIDRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 11, 23, 10, 0, 30, 123456789, time.UTC)
	for _, final := range []bool{false, true} {
		for _, seq := range []uint64{0, 1, 2, 1 << 40} {
			id := string(appendEventID(nil, deadline, seq, final))
			r, ok := parseEventID(id)
			want := resume{deadline: deadline.Truncate(time.Millisecond), seq: seq, final: final}
			if !ok || !r.deadline.Equal(want.deadline) || r.seq != seq || r.final != final {
				t.Errorf("parseEventID(%q) = %+v, %v; want %+v, true", id, r, ok, want)
			}
			if len(id) > maxEventIDLen {
				t.Errorf("appendEventID(nil, %v, %d, %v) = %q: longer than parseEventID reads", deadline, seq, final, id)
			}
		}
	}
}

func TestStreamDeadline(t *testing.T) {
	const budget = 30 * time.Second
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    resume
		ok   bool
		want time.Time
	}{
		{"fresh stream", resume{}, false, now.Add(budget)},
		{"malformed id ignored", resume{deadline: now.Add(time.Second)}, false, now.Add(budget)},
		{"reconnect keeps the deadline", resume{deadline: now.Add(12 * time.Second), seq: 3}, true, now.Add(12 * time.Second)},
		{"deadline exactly one budget away", resume{deadline: now.Add(budget)}, true, now.Add(budget)},
		{"forged deadline: one budget", resume{deadline: now.Add(24 * time.Hour)}, true, now.Add(budget)},
		{"forged far future: one budget", resume{deadline: time.UnixMilli(1<<62 - 1)}, true, now.Add(budget)},
		{"passed deadline ends at once", resume{deadline: now.Add(-time.Second)}, true, now.Add(-time.Second)},
		{"epoch", resume{deadline: time.UnixMilli(0)}, true, time.UnixMilli(0)},
	}
	for _, tt := range tests {
		if got := streamDeadline(tt.r, tt.ok, now, budget); !got.Equal(tt.want) {
			t.Errorf("%s: streamDeadline(%+v, %v, now, %v) = %v; want %v", tt.name, tt.r, tt.ok, budget, got, tt.want)
		}
	}
}
