package eventid

import (
	"strings"
	"testing"
	"time"
)

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in   string
		want Resume
		ok   bool
	}{
		{"1700000000000-1", Resume{Deadline: time.UnixMilli(1700000000000), Seq: 1}, true},
		{"1700000000000-42-end", Resume{Deadline: time.UnixMilli(1700000000000), Seq: 42, Final: true}, true},
		{"0-0", Resume{Deadline: time.UnixMilli(0), Seq: 0}, true},
		{"99999999999999-7", Resume{Deadline: time.UnixMilli(99999999999999), Seq: 7}, true},
		{"1-18446744073709551614", Resume{Deadline: time.UnixMilli(1), Seq: 18446744073709551614}, true},
		// Absent or malformed: a fresh stream.
		{"", Resume{}, false},
		{"abc", Resume{}, false},
		{"1700000000000", Resume{}, false},
		{"1700000000000-", Resume{}, false},
		{"-1", Resume{}, false},
		{"-5-1", Resume{}, false},
		{"1700000000000--end", Resume{}, false},
		{"1700000000000-1-END", Resume{}, false},
		{"1700000000000-1-2", Resume{}, false},
		{"1700000000000-x", Resume{}, false},
		{"1700000000000-1-end-end", Resume{}, false},
		{"17e11-1", Resume{}, false},
		{" 1700000000000-1", Resume{}, false},
		{"99999999999999999999-1", Resume{}, false}, // deadline overflows int64
		{"1-99999999999999999999", Resume{}, false}, // seq overflows uint64
		{"1-18446744073709551615", Resume{}, false}, // no next Seq: it would wrap to 0
		{"1-18446744073709551615-end", Resume{}, false},
		{"1-" + strings.Repeat("0", 62) + "1", Resume{}, false}, // 65 characters
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if ok != tt.ok || !got.Deadline.Equal(tt.want.Deadline) || got.Seq != tt.want.Seq || got.Final != tt.want.Final {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEventIDRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 11, 23, 10, 0, 30, 123456789, time.UTC)
	for _, final := range []bool{false, true} {
		for _, seq := range []uint64{0, 1, 2, 1 << 40} {
			id := string(Append(nil, deadline, seq, final))
			r, ok := Parse(id)
			want := Resume{Deadline: deadline.Truncate(time.Millisecond), Seq: seq, Final: final}
			if !ok || !r.Deadline.Equal(want.Deadline) || r.Seq != seq || r.Final != final {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, true", id, r, ok, want)
			}
			if len(id) > MaxLen {
				t.Errorf("Append(nil, %v, %d, %v) = %q: longer than Parse reads", deadline, seq, final, id)
			}
		}
	}
}

func TestStreamDeadline(t *testing.T) {
	const budget = 30 * time.Second
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    Resume
		ok   bool
		want time.Time
	}{
		{"fresh stream", Resume{}, false, now.Add(budget)},
		{"malformed id ignored", Resume{Deadline: now.Add(time.Second)}, false, now.Add(budget)},
		{"reconnect keeps the deadline", Resume{Deadline: now.Add(12 * time.Second), Seq: 3}, true, now.Add(12 * time.Second)},
		{"deadline exactly one budget away", Resume{Deadline: now.Add(budget)}, true, now.Add(budget)},
		{"forged Deadline: one budget", Resume{Deadline: now.Add(24 * time.Hour)}, true, now.Add(budget)},
		{"forged far future: one budget", Resume{Deadline: time.UnixMilli(1<<62 - 1)}, true, now.Add(budget)},
		{"passed deadline ends at once", Resume{Deadline: now.Add(-time.Second)}, true, now.Add(-time.Second)},
		{"epoch", Resume{Deadline: time.UnixMilli(0)}, true, time.UnixMilli(0)},
	}
	for _, tt := range tests {
		if got := Deadline(tt.r.Deadline, tt.ok, now, budget); !got.Equal(tt.want) {
			t.Errorf("%s: Deadline(%v, %v, now, %v) = %v; want %v", tt.name, tt.r.Deadline, tt.ok, budget, got, tt.want)
		}
	}
}
