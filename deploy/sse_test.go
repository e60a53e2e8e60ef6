package deploy

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	id, name, data string
}

// sseReader reads a text/event-stream as EventSource does: fields up to a
// blank line make an event; lines starting with ':' are comments.
type sseReader struct {
	sc       *bufio.Scanner
	first    string // the stream's first line
	lines    int
	retry    string // the last retry: field
	comments []string
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return &sseReader{sc: sc}
}

// next returns the next event, or io.EOF when the stream ends.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	fields := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if r.lines == 0 {
			r.first = line
		}
		r.lines++
		if line == "" {
			if len(data) > 0 {
				ev.data = strings.Join(data, "\n")
				if ev.name == "" {
					ev.name = "message"
				}
				return ev, nil
			}
			ev, fields = sseEvent{}, false
			continue
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			r.comments = append(r.comments, strings.TrimPrefix(c, " "))
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		fields = true
		switch name {
		case "id":
			ev.id = value
		case "event":
			ev.name = value
		case "data":
			data = append(data, value)
		case "retry":
			r.retry = value
		}
	}
	if err := r.sc.Err(); err != nil {
		return sseEvent{}, err
	}
	if fields && len(data) > 0 {
		return sseEvent{}, fmt.Errorf("stream ended inside an event")
	}
	return sseEvent{}, io.EOF
}

// TestSSEReader reads the document's own stream example with the reader
// TestConformance uses, and checks its events as it checks real ones.
func TestSSEReader(t *testing.T) {
	c := &conformance{o: loadOpenAPI(t)}
	for path, want := range map[string][]string{
		streamPath:     {"status", "failed"},
		manyStreamPath: {"status", "problem", "failed"},
	} {
		ex, _ := get(c.o.doc, "paths", path, "get", "responses", "200", "content", "text/event-stream", "example").(string)
		require.NotEmpty(t, ex, "the stream's example")
		r := newSSEReader(strings.NewReader(ex + "\n"))
		var names []string
		for {
			ev, err := r.next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			names = append(names, ev.name)
			c.checkEvent(t, path, ev)
		}
		assert.Equal(t, "retry: 2000", r.first, path)
		assert.Equal(t, want, names, path)
	}

	r := newSSEReader(strings.NewReader(": hi\nid: 1\nevent: x\ndata: a\ndata: b\n\nretry: 5\n\ndata: c\n\n"))
	ev, err := r.next()
	require.NoError(t, err)
	assert.Equal(t, sseEvent{id: "1", name: "x", data: "a\nb"}, ev)
	ev, err = r.next()
	require.NoError(t, err)
	assert.Equal(t, sseEvent{name: "message", data: "c"}, ev)
	assert.Equal(t, "5", r.retry)
	assert.Equal(t, []string{"hi"}, r.comments)
	_, err = r.next()
	assert.Equal(t, io.EOF, err)
}
