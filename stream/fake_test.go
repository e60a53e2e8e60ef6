package stream_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// The test kit of the hub's unit tests: an in-memory store the hub reads,
// with a hook that lets a test act inside a read (fail it, change the
// store, look at the hub), and a hub over it run as subscribed. Tests run
// it under testing/synctest: a fake clock, and synctest.Wait instead of
// sleeps.

// memStore is a map of job states the hub reads; it counts and times reads.
// Its states are the job's raw value, "" when missing.
type memStore struct {
	mu      sync.Mutex
	state   map[string]string
	reads   map[string][]time.Time
	expires map[string]time.Time   // as Redis expires a key: missing from then on
	lookups map[string][]time.Time // when each job's time to live was looked up

	// during, if set, runs in every read after the states are taken and
	// before they are returned, outside the store's lock, with the read's
	// ids and the previous states the hub passed; an error fails the read.
	during func(ids, prev []string) error
}

func newMemStore() *memStore {
	return &memStore{state: map[string]string{}, reads: map[string][]time.Time{},
		expires: map[string]time.Time{}, lookups: map[string][]time.Time{}}
}

// onceDuring makes f run inside the next read, once (see during).
func (m *memStore) onceDuring(f func()) {
	var once sync.Once
	m.mu.Lock()
	m.during = func(_, _ []string) error {
		once.Do(f)
		return nil
	}
	m.mu.Unlock()
}

func (m *memStore) set(id, v string) {
	m.mu.Lock()
	m.state[id] = v
	m.mu.Unlock()
}

// expire gives id a time to live of d from now.
func (m *memStore) expire(id string, d time.Duration) {
	m.mu.Lock()
	m.expires[id] = time.Now().Add(d)
	m.mu.Unlock()
}

// expireLocked drops id if its time is up, as Redis does when a command
// touches it.
func (m *memStore) expireLocked(id string) {
	if at, ok := m.expires[id]; ok && !time.Now().Before(at) {
		delete(m.state, id)
		delete(m.expires, id)
	}
}

// ttls is the hub's Config.TTLs over m.
func (m *memStore) ttls(ctx context.Context, ids []string) ([]time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]time.Duration, len(ids))
	for i, id := range ids {
		m.lookups[id] = append(m.lookups[id], time.Now())
		m.expireLocked(id)
		switch at, ok := m.expires[id]; {
		case m.state[id] == "":
			out[i] = -1
		case ok:
			out[i] = time.Until(at)
		}
	}
	return out, nil
}

// lookupsOf returns when id's time to live was looked up.
func (m *memStore) lookupsOf(id string) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.lookups[id]...)
}

func (m *memStore) read(ctx context.Context, ids, prev []string) ([]string, error) {
	m.mu.Lock()
	out := make([]string, len(ids))
	for i, id := range ids {
		m.expireLocked(id)
		out[i] = m.state[id]
		m.reads[id] = append(m.reads[id], time.Now())
	}
	during := m.during
	m.mu.Unlock()
	if during != nil {
		if err := during(ids, prev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readsOf returns when id was read.
func (m *memStore) readsOf(id string) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.reads[id]...)
}

const (
	testResync = 5 * time.Second
	testGrace  = 2 * time.Second
)

// memHub runs a hub over m, as subscribed, until the test ends. States
// "late" are doubted for testGrace (a result written after the status), a
// job that was there and reads as gone ("") for DefaultConfirmDelay. opts
// change the configuration further.
func memHub(t *testing.T, m *memStore, opts ...func(*stream.Config[string])) *stream.Hub[string] {
	cfg := stream.Config[string]{
		Pattern:   "job:*",
		Subscribe: stream.SubscribePattern, // RunSubscribed stands for one subscription of every key
		JobID:     func(key string) (string, bool) { return strings.CutPrefix(key, "job:") },
		Read:      m.read,
		Same:      func(a, b string) bool { return a == b },
		Doubt: func(prev, next string) time.Duration {
			switch {
			case next == "late":
				return testGrace
			case prev != "" && next == "":
				return stream.DefaultConfirmDelay
			}
			return 0
		},
		Resync: testResync,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h := stream.New(cfg)
	streamtest.Run(t, 10*time.Second, "RunSubscribed", h.RunSubscribed)
	return h
}

// assertNotBlind checks that h has not caught itself missing a change.
func assertNotBlind(t *testing.T, h *stream.Hub[string]) {
	t.Helper()
	st := h.Stats()
	blind, reason := st.Blind, st.BlindReason
	assert.False(t, blind, reason)
	assert.EqualValues(t, 0, h.Stats().Unannounced)
}

// next waits for w's next state, at most within.
func next(t *testing.T, w *stream.Waiter[string], within time.Duration) (string, bool) {
	t.Helper()
	select {
	case <-w.C():
		st, _ := w.Latest()
		return st, true
	case <-time.After(within):
		return "", false
	}
}

// watched returns a store holding job "a" in state st, a hub over it, and
// a waiter of the job, closed when the test ends.
func watched(t *testing.T, st string) (*memStore, *stream.Hub[string], *stream.Waiter[string]) {
	t.Helper()
	m := newMemStore()
	m.set("a", st)
	h := memHub(t, m)
	w, _, err := h.Watch(t.Context(), "a")
	if err != nil {
		t.Fatalf("watch a: %v", err)
	}
	t.Cleanup(w.Close)
	return m, h, w
}
