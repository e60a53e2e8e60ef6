package stream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestFlapsLogTwoLinesPerQuietPeriod: a subscription killed every 40 ms
// logs its first loss and confirmation, then one of each per flapQuiet,
// with the count of those not logged.
func TestFlapsLogTwoLinesPerQuietPeriod(t *testing.T) {
	var f flaps
	t0 := time.Unix(1000, 0)
	lostLines, liveLines := 0, 0
	var heldLost, heldLive int
	for i := range 500 { // 20 s of kills
		at := t0.Add(time.Duration(i) * 40 * time.Millisecond)
		if ok, held, _ := f.lost(at, "", true); ok {
			lostLines++
			heldLost += held
		}
		if ok, held := f.live(at.Add(20*time.Millisecond), ""); ok {
			liveLines++
			heldLive += held
		}
	}
	assert.Equal(t, 2, lostLines, "a loss line at 0 s and at 10 s")
	assert.Equal(t, 2, liveLines, "a live line after each")
	assert.Equal(t, 249, heldLost, "the second line counts the losses between")
	assert.Equal(t, 249, heldLive)
}

// TestFlapsLogAnOutageThatFollowsAFlap: a loss within flapQuiet of the last
// one logged is not logged at once; if it goes on for stillDown it is, and
// the confirmation after it is logged whenever it comes.
func TestFlapsLogAnOutageThatFollowsAFlap(t *testing.T) {
	var f flaps
	t0 := time.Unix(1000, 0)
	ok, _, _ := f.lost(t0, "", true)
	assert.True(t, ok, "the first loss")
	ok, _ = f.live(t0.Add(100*time.Millisecond), "")
	assert.True(t, ok, "its confirmation")

	at := t0.Add(2 * time.Second)
	ok, _, _ = f.lost(at, "", true)
	assert.False(t, ok, "a loss right after a flap waits")
	ok, _, _ = f.lost(at.Add(400*time.Millisecond), "", false)
	assert.False(t, ok, "a retry before stillDown")
	ok, held, lasted := f.lost(at.Add(1200*time.Millisecond), "", false)
	assert.True(t, ok, "a retry once the outage has lasted stillDown")
	assert.Equal(t, 0, held, "the line is the outage's own")
	assert.Equal(t, 1200*time.Millisecond, lasted)
	ok, _, _ = f.lost(at.Add(3*time.Second), "", false)
	assert.False(t, ok, "logged once")
	ok, _ = f.live(at.Add(4*time.Second), "")
	assert.True(t, ok, "the log never ends on a loss while live")
}

// TestFlapsHoldOutagesPerNode: on a cluster, another master's failed
// retries do not log a held loss; the master's own do.
func TestFlapsHoldOutagesPerNode(t *testing.T) {
	var f flaps
	t0 := time.Unix(1000, 0)
	ok, _, _ := f.lost(t0, "a", true)
	assert.True(t, ok)
	ok, _, _ = f.lost(t0.Add(time.Second), "b", true)
	assert.False(t, ok, "b's loss, within flapQuiet of a's")
	ok, _, _ = f.lost(t0.Add(3*time.Second), "a", false)
	assert.False(t, ok, "a's retry is not b's outage")
	ok, _, lasted := f.lost(t0.Add(3*time.Second), "b", false)
	assert.True(t, ok, "b's retry, b down for 2 s")
	assert.Equal(t, 2*time.Second, lasted)
}
