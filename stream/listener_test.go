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
	h.publishing = map[string]*nodeSub{"a": a, "b": b}

	h.listened(confirmed, a, nil)
	assert.False(t, h.Ready(), "b not confirmed yet")
	h.listened(confirmed, b, nil)
	assert.True(t, h.Ready())
	h.listened(confirmed, old, nil)
	h.listened(lost, old, fmt.Errorf("gone"))
	assert.True(t, h.Ready(), "a former master's subscription is no master's")

	h.listened(lost, a, fmt.Errorf("connection reset"))
	assert.False(t, h.Ready())
	h.listened(lost, a, fmt.Errorf("connection refused"))
	assert.EqualValues(t, 1, h.Stats().Reconnects, "one outage, one reconnect")
	h.listened(confirmed, a, nil)
	assert.True(t, h.Ready())
	assert.EqualValues(t, 3, h.Stats().Resyncs, "each current publisher's confirmation re-reads")
}
