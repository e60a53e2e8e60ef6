package held

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestWaitClock: heartbeats every beat, then the end at the end, not a
// heartbeat later; an end closer than a beat comes first.
func TestWaitClock(t *testing.T) {
	for _, tc := range []struct {
		name       string
		end, beat  time.Duration
		wantBeats  int
		wantEndsAt time.Duration
	}{
		{"beats then end", 35 * time.Second, 10 * time.Second, 3, 35 * time.Second},
		{"end on a beat", 30 * time.Second, 10 * time.Second, 2, 30 * time.Second},
		{"end before the first beat", 5 * time.Second, 10 * time.Second, 0, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				fires := make(chan struct{})
				c := startClock(start.Add(tc.end), tc.beat, func() { fires <- struct{}{} })
				defer c.stop()
				beats := 0
				for {
					select {
					case <-fires:
					case <-time.After(time.Hour):
						t.Fatal("the clock never fired")
					}
					if c.fired() {
						break
					}
					beats++
					if got, want := time.Since(start), time.Duration(beats)*tc.beat; got != want {
						t.Fatalf("beat %d at %v; want %v", beats, got, want)
					}
				}
				if beats != tc.wantBeats || time.Since(start) != tc.wantEndsAt {
					t.Fatalf("%d beats, end at %v; want %d, %v", beats, time.Since(start), tc.wantBeats, tc.wantEndsAt)
				}
			})
		})
	}
}
