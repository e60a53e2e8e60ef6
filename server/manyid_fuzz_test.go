package server

import (
	"fmt"
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
// one appendManyEventID writes, byte for byte, or not at all; it never
// panics, never buys more than one budget, and proves which jobs ended
// only for the very set of ids it was written for, with one mark per job.
func FuzzParseManyEventID(f *testing.F) {
	deadline := time.UnixMilli(1700000000000)
	for n, ended := range [][]bool{{true}, {false, true, false}, {true, true, true, true, false}} {
		ids := fuzzList("", len(ended))
		for _, final := range []bool{false, true} {
			f.Add(string(appendManyEventID(nil, deadline, uint64(n), newJobList(ids), ended, final)), len(ids), "")
		}
	}
	for _, s := range []string{"1700000000000-1-0", "1-1-7-end", "99999999999999-7-ff", "1-1", "", "-", "1--", "1-1-g"} {
		f.Add(s, 3, "")
	}
	f.Fuzz(func(t *testing.T, s string, n int, first string) {
		if n < 1 || n > 200 {
			return
		}
		r, ok := parseManyEventID(s, 200)
		if !ok {
			return
		}
		now := time.Now()
		if d := streamDeadline(resume{deadline: r.deadline}, true, now, DefaultWaitBudget); d.After(now.Add(DefaultWaitBudget)) {
			t.Fatalf("parseManyEventID(%q): deadline %v past one budget", s, d)
		}
		list := newJobList(fuzzList(first, n))
		ended, proved := list.ended(r)
		if len(ended) != n {
			t.Fatalf("parseManyEventID(%q) for %d jobs: %d marks", s, n, len(ended))
		}
		if !proved {
			for i, e := range ended {
				if e {
					t.Fatalf("parseManyEventID(%q) proves nothing, yet marks job %d ended", s, i)
				}
			}
			return
		}
		if r.list != list.digest {
			t.Fatalf("parseManyEventID(%q) proves for a list of digest %08x, not its own %08x", s, list.digest, r.list)
		}
		if back := string(appendManyEventID(nil, r.deadline, r.seq, list, ended, r.final)); back != s {
			t.Fatalf("parseManyEventID(%q) reads back as %q", s, back)
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
		id := appendManyEventID(nil, time.UnixMilli(ms), seq, newJobList(fuzzList("", int(n))), ended, final)
		if pos < 0 || pos >= len(id) || id[pos] == c {
			return
		}
		id[pos] = c
		if r, ok := parseManyEventID(string(id), 64); ok {
			t.Fatalf("parseManyEventID(%q), byte %d changed, reads as %+v", id, pos, r)
		}
	})
}
