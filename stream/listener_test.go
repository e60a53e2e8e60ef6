package stream

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLiveOnlyWhileEveryPublisherIs: the hub is ready while every current
// publisher's subscription is confirmed; one lost makes it not ready and
// counts one reconnect; a subscription of a node that no longer publishes
// changes nothing.
func TestLiveOnlyWhileEveryPublisherIs(t *testing.T) {
	h := New(Config[string]{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h.mode.Store(Keyspace)
	a, b, old := &nodeSub{name: "a"}, &nodeSub{name: "b"}, &nodeSub{name: "old"}
	l := &listener[string]{h: h, subs: map[string]*nodeSub{"a": a, "b": b}, check: make(chan struct{}, 1)}

	l.confirmed(a)
	assert.False(t, h.Ready(), "b not confirmed yet")
	l.confirmed(b)
	assert.True(t, h.Ready())
	l.confirmed(old)
	l.lost(old, fmt.Errorf("gone"))
	assert.True(t, h.Ready(), "a former master's subscription is no master's")

	l.lost(a, fmt.Errorf("connection reset"))
	assert.False(t, h.Ready())
	l.lost(a, fmt.Errorf("connection refused"))
	assert.EqualValues(t, 1, h.Stats().Reconnects, "one outage, one reconnect")
	l.confirmed(a)
	assert.True(t, h.Ready())
	assert.EqualValues(t, 3, h.Stats().Resyncs, "each current publisher's confirmation re-reads")
}
