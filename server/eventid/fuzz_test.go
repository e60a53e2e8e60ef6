package eventid

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// fuzzList is a list of n distinct ids, the first given, for the fuzz
// tests: the same n ids in another order are the same set.
func fuzzList(first string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("j%d", i)
	}
	if n > 0 && first != "" {
		ids[0] = first
	}
	return ids
}

// FuzzParseManyEventID: any Last-Event-ID of a many-job stream reads as
// one AppendMany writes, byte for byte, or not at all; it never
// panics, never buys more than one budget, and proves which jobs ended
// only for the very set of ids it was written for, with one mark per job.
func FuzzParseManyEventID(f *testing.F) {
	deadline := time.UnixMilli(1700000000000)
	for n, ended := range [][]bool{{true}, {false, true, false}, {true, true, true, true, false}} {
		ids := fuzzList("", len(ended))
		for _, final := range []bool{false, true} {
			f.Add(string(AppendMany(nil, deadline, uint64(n), NewList(ids), ended, final)), len(ids), "")
		}
	}
	for _, s := range []string{"1700000000000-1-0", "1-1-7-end", "99999999999999-7-ff", "1-1", "", "-", "1--", "1-1-g"} {
		f.Add(s, 3, "")
	}
	const budget = 30 * time.Second
	f.Fuzz(func(t *testing.T, s string, n int, first string) {
		if n < 1 || n > 200 {
			return
		}
		r, ok := ParseMany(s, 200)
		if !ok {
			return
		}
		now := time.Now()
		if d := Deadline(r.Deadline, true, now, budget); d.After(now.Add(budget)) {
			t.Fatalf("ParseMany(%q): deadline %v past one budget", s, d)
		}
		list := NewList(fuzzList(first, n))
		ended, proved := list.Ended(r)
		if len(ended) != n {
			t.Fatalf("ParseMany(%q) for %d jobs: %d marks", s, n, len(ended))
		}
		if !proved {
			for i, e := range ended {
				if e {
					t.Fatalf("ParseMany(%q) proves nothing, yet marks job %d ended", s, i)
				}
			}
			return
		}
		if r.list != list.digest {
			t.Fatalf("ParseMany(%q) proves for a list of digest %08x, not its own %08x", s, list.digest, r.list)
		}
		if back := string(AppendMany(nil, r.Deadline, r.Seq, list, ended, r.Final)); back != s {
			t.Fatalf("ParseMany(%q) reads back as %q", s, back)
		}
	})
}

// FuzzManyEventIDAltered: a genuine id changed in one byte is never read.
func FuzzManyEventIDAltered(f *testing.F) {
	f.Add(int64(1700000000000), uint64(3), uint8(5), uint64(0b10110), true, 7, byte('1'))
	f.Add(int64(0), uint64(0), uint8(1), uint64(0), false, 0, byte('-'))
	f.Add(int64(99999999999999), uint64(1<<63), uint8(50), uint64(1<<50-1), true, 60, byte('f'))
	f.Fuzz(func(t *testing.T, ms int64, seq uint64, n uint8, bits uint64, final bool, pos int, c byte) {
		if ms < 0 || n < 1 || n > 64 {
			return
		}
		ended := make([]bool, n)
		for i := range ended {
			ended[i] = bits&(1<<i) != 0
		}
		id := AppendMany(nil, time.UnixMilli(ms), seq, NewList(fuzzList("", int(n))), ended, final)
		if pos < 0 || pos >= len(id) || id[pos] == c {
			return
		}
		id[pos] = c
		if r, ok := ParseMany(string(id), 64); ok {
			t.Fatalf("ParseMany(%q), byte %d changed, reads as %+v", id, pos, r)
		}
	})
}

func FuzzParseEventID(f *testing.F) {
	now := time.Now()
	for _, s := range []string{
		"", "-", "--end", "-end", "1-2", "1-2-end", string(Append(nil, now.Add(time.Minute), 3, false)),
		string(Append(nil, now.Add(time.Minute), 4, true)), "9223372036854775807-1", "9223372036854775808-1",
		"-1-1", "+1-+1", "1-18446744073709551614", "1-18446744073709551615", "1-18446744073709551616", "1-2-3", "1-2-end-end",
		"1 -2", "1-2\n", "a-b", strings.Repeat("1", 65), "99999999999999999-1-end",
	} {
		f.Add(s)
	}
	const budget = 30 * time.Second
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := Parse(s)
		if !ok {
			if r != (Resume{}) {
				t.Fatalf("Parse(%q) = %+v, false; want the zero resume", s, r)
			}
		} else if len(s) > MaxLen {
			t.Fatalf("Parse(%q) accepted %d bytes; want at most %d", s, len(s), MaxLen)
		}
		// Whatever the id, the stream it resumes ends within one budget.
		at := time.Unix(1_800_000_000, 0)
		if d := Deadline(r.Deadline, ok, at, budget); d.After(at.Add(budget)) {
			t.Fatalf("streamDeadline after Parse(%q) = %v; want at most %v", s, d, at.Add(budget))
		}
		// A resumed stream's own ids read back as what they say (but the
		// last sequence, which no next event could follow, is refused).
		if ok && r.Seq+1 < math.MaxUint64 {
			r2, ok2 := Parse(string(Append(nil, r.Deadline, r.Seq+1, r.Final)))
			if !ok2 || !r2.Deadline.Equal(r.Deadline) || r2.Seq != r.Seq+1 || r2.Final != r.Final {
				t.Fatalf("Parse(Append(%+v)) = %+v, %v; want it back", r, r2, ok2)
			}
		}
	})
}
