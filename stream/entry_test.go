package stream

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of a watched job's state (entry.go), each as the moves that
// lead to it, on a hub that runs nothing: where the job stands, where it
// is queued, and whether a change its read finds is announced.

func ruleHub() *Hub[string] {
	return New(Config[string]{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// where says which queues hold e.
func where(h *Hub[string], e *entry[string]) string {
	d, s := slices.Contains(h.dirty, e), slices.Contains(h.sweep, e)
	switch {
	case d && s:
		return "dirty+sweep"
	case d:
		return "dirty"
	case s:
		return "sweep"
	}
	return "none"
}

// apply makes ev happen to e as the hub does: taken is the hub's take.
func apply(t *testing.T, h *Hub[string], e *entry[string], ev event) {
	if ev != taken {
		h.moveLocked(e, ev)
		return
	}
	batch, _ := h.take()
	require.Equal(t, []*entry[string]{e}, batch, "taken")
}

func TestEntryRules(t *testing.T) {
	tests := []struct {
		rule        string
		moves       []event
		want        state
		queue       string // where the job is queued: "none", "dirty", "sweep" (a job moved ahead leaves a copy there)
		unannounced bool
	}{
		{"a notification of an idle job queues a read for a change", []event{notified}, dirty, "dirty", false},
		{"a Watch of an idle job queues a read for a change", []event{asked}, dirty, "dirty", false},
		{"the guard queues a safety re-read behind the changes", []event{swept}, sweep, "sweep", false},
		{"a safety re-read is read as one", []event{swept, taken}, sweeping, "none", true},
		{"a notification moves a safety re-read ahead, announced", []event{swept, notified}, dirty, "dirty+sweep", false},
		{"... and it is read for a change", []event{swept, notified, taken}, reading, "sweep", false},
		{"a Watch moves a safety re-read ahead", []event{swept, asked}, sweepAhead, "dirty+sweep", false},
		{"... still unannounced", []event{swept, asked, taken}, sweeping, "sweep", true},
		{"a job queued twice is read once", []event{notified, asked, notified, taken}, reading, "none", false},
		{"a change during a read is read once more", []event{asked, taken, notified}, readingAgain, "none", false},
		{"... after the read", []event{asked, taken, notified, readDone}, dirty, "dirty", false},
		{"a notification during a safety re-read announces its change", []event{swept, taken, notified}, readingAgain, "none", false},
		{"a Watch during a safety re-read leaves it unannounced", []event{swept, taken, asked}, sweepingAgain, "none", true},
		{"... and it is read once more, for a change", []event{swept, taken, asked, readDone}, dirty, "dirty", false},
		{"a read done leaves the job idle", []event{notified, taken, readDone}, idle, "none", false},
		{"a job nobody watches is not read again", []event{notified, taken, notified, dropped}, idle, "none", false},
	}
	for _, tt := range tests {
		h, e := ruleHub(), &entry[string]{id: "a", state: idle}
		for _, ev := range tt.moves {
			apply(t, h, e, ev)
		}
		assert.Equal(t, tt.want, e.state, tt.rule)
		assert.Equal(t, tt.queue, where(h, e), tt.rule)
		assert.Equal(t, tt.unannounced, e.state.unannounced(), "%s: unannounced", tt.rule)
		assert.Equal(t, tt.want == idle || tt.want == sweep, e.state.trusted(), "%s: trusted", tt.rule)
	}
}

// TestEntryIllegalMoves: what cannot happen panics rather than corrupt the
// queues: a job read twice at once, a read ended that never began, a
// safety re-read of a job already queued or being read.
func TestEntryIllegalMoves(t *testing.T) {
	tests := []struct {
		rule  string
		moves []event
	}{
		{"an idle job is not taken", []event{taken}},
		{"an idle job's read does not end", []event{readDone}},
		{"a job being read is not taken again", []event{notified, taken, taken}},
		{"a queued job is not swept", []event{notified, swept}},
		{"a job being read is not swept", []event{notified, taken, swept}},
		{"a queued job's read does not end", []event{swept, readDone}},
		{"no job is in no state", nil},
	}
	for _, tt := range tests {
		h, e := ruleHub(), &entry[string]{id: "a", state: idle}
		if tt.moves == nil {
			e.state = illegal
			tt.moves = []event{notified}
		}
		last := len(tt.moves) - 1
		for _, ev := range tt.moves[:last] {
			h.moveLocked(e, ev)
		}
		assert.Panics(t, func() { h.moveLocked(e, tt.moves[last]) }, tt.rule)
	}
}

// TestEntryQueuesFollowStates drives jobs through random legal events,
// with the hub's own take, and checks after each that a job's queue is
// where its state says: a job queued in dirty is in dirty once, a swept
// one in sweep, and a job taken is read by exactly one batch.
func TestEntryQueuesFollowStates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := ruleHub()
	h.cfg.Batch = 3
	var es []*entry[string]
	for i := range 5 {
		e := &entry[string]{id: string(rune('a' + i)), state: idle}
		es = append(es, e)
		h.jobs[e.id] = e
	}
	var inRead []*entry[string]
	visited := map[state]bool{}
	for step := range 5000 {
		switch n := r.IntN(10); {
		case n < 3:
			h.queueLocked(es[r.IntN(len(es))], notified, time.Time{})
		case n < 4:
			h.queueLocked(es[r.IntN(len(es))], asked, time.Time{})
		case n < 7:
			if e := es[r.IntN(len(es))]; e.state == idle {
				h.moveLocked(e, swept)
			}
		case n < 9:
			batch, _ := h.take()
			for _, e := range batch {
				require.False(t, slices.Contains(inRead, e), "step %d: %s taken while being read", step, e.id)
				require.True(t, e.state == reading || e.state == sweeping, "step %d: %s taken into %d", step, e.id, e.state)
			}
			inRead = append(inRead, batch...)
		default:
			if len(inRead) > 0 {
				i := r.IntN(len(inRead))
				h.moveLocked(inRead[i], readDone)
				inRead = slices.Delete(inRead, i, i+1)
			}
		}
		for _, e := range es {
			inDirty := 0
			for _, d := range h.dirty {
				if d == e {
					inDirty++
				}
			}
			switch {
			case e.state.inDirty():
				require.Equal(t, 1, inDirty, "step %d: %s in state %d", step, e.id, e.state)
			case e.state == sweep:
				require.Contains(t, h.sweep, e, "step %d: %s", step, e.id)
			}
			require.LessOrEqual(t, inDirty, 1, "step %d: %s queued twice in dirty", step, e.id)
			visited[e.state] = true
		}
	}
	assert.Len(t, visited, int(sweepingAgain), "every state visited")
}
