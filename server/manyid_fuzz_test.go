package server

import (
	"testing"
	"time"
)

// FuzzParseManyEventID: any Last-Event-ID of a many-job stream reads as a
// resume of the stream's own jobs, or not at all; it never panics, never
// names a job past the list, never buys more than one budget, and reads
// back as written.
func FuzzParseManyEventID(f *testing.F) {
	for _, s := range []string{"1700000000000-1-0", "1-1-7-end", "99999999999999-7-ff", "1-1", "", "-", "1--", "1-1-g"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 200 {
			return
		}
		r, ok := parseManyEventID(s, n)
		if !ok {
			return
		}
		if len(r.ended) != n {
			t.Fatalf("parseManyEventID(%q, %d): %d positions", s, n, len(r.ended))
		}
		now := time.Now()
		if d := streamDeadline(resume{deadline: r.deadline}, true, now, DefaultWaitBudget); d.After(now.Add(DefaultWaitBudget)) {
			t.Fatalf("parseManyEventID(%q): deadline %v past one budget", s, d)
		}
		back := string(appendManyEventID(nil, r.deadline, r.seq, r.ended, r.final))
		if r2, ok := parseManyEventID(back, n); !ok || r2.done() != r.done() {
			t.Fatalf("parseManyEventID(%q, %d) -> %q does not read back", s, n, back)
		}
	})
}
