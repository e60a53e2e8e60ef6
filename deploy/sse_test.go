package deploy

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/sse"
)

// TestSSEReader reads the document's own stream example as TestConformance
// reads a real stream, and checks its events as it checks real ones.
func TestSSEReader(t *testing.T) {
	c := &conformance{o: loadOpenAPI(t)}
	for path, want := range map[string][]string{
		streamPath:     {"status", "failed"},
		manyStreamPath: {"status", "problem", "failed"},
	} {
		media, err := c.o.streamMedia(path)
		require.NoError(t, err)
		ex, _ := media.Example.(string)
		require.NotEmpty(t, ex, "the stream's example")
		evs, first := readEvents(t, strings.NewReader(ex+"\n"), func(ev sse.Event) { c.checkEvent(t, path, ev) })
		assert.Equal(t, "retry: 2000", first, path)
		assert.Equal(t, want, eventNames(evs), path)
	}
}

// readEvents reads a stream to its end with package sse's reader, calling
// each with every event before the next is read, and returns the events
// and the stream's first line. An event's ID is its own id: field, not
// the last one in force, so that an event without one is seen.
func readEvents(t *testing.T, r io.Reader, each func(sse.Event)) (evs []sse.Event, first string) {
	t.Helper()
	events := sse.NewReader(r)
	for {
		b, err := events.Block()
		if err == io.EOF {
			return evs, first
		}
		require.NoError(t, err, "read stream after %d events", len(evs))
		if first == "" {
			first = b.Lines[0]
		}
		ev, ok := b.Event()
		if !ok {
			continue
		}
		ev.ID = b.ID
		evs = append(evs, ev)
		if each != nil {
			each(ev)
		}
	}
}

func eventNames(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
