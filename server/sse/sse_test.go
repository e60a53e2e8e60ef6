package sse_test

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/sse"
)

func TestReaderNext(t *testing.T) {
	tests := []struct {
		name     string
		stream   string
		want     []sse.Event
		retry    time.Duration
		comments int
		lastID   string
	}{
		{
			name: "jobwait stream",
			stream: "retry: 2000\n\n" +
				"id: 1-1\nevent: status\ndata: {\"status\":\"PROCESSING\"}\n\n" +
				": keepalive\n\n" +
				"id: 1-2-end\nevent: completed\ndata: {\"status\":\"COMPLETED\"}\n\n",
			want: []sse.Event{
				{ID: "1-1", Type: "status", Data: `{"status":"PROCESSING"}`},
				{ID: "1-2-end", Type: "completed", Data: `{"status":"COMPLETED"}`},
			},
			retry: 2 * time.Second, comments: 1, lastID: "1-2-end",
		},
		{
			name:   "CRLF line ends",
			stream: "event: timeout\r\ndata: x\r\n\r\n",
			want:   []sse.Event{{Type: "timeout", Data: "x"}},
		},
		{
			name:   "CR line ends",
			stream: "event: timeout\rdata: x\r\rdata: y\r\n\n",
			want:   []sse.Event{{Type: "timeout", Data: "x"}, {Type: "message", Data: "y"}},
		},
		{
			name:   "a byte order mark is skipped",
			stream: "\uFEFFdata: a\n\n",
			want:   []sse.Event{{Type: "message", Data: "a"}},
		},
		{
			name:   "no event name is a message",
			stream: "data: hello\n\n",
			want:   []sse.Event{{Type: "message", Data: "hello"}},
		},
		{
			name:   "data lines join with newlines",
			stream: "data: a\ndata:b\ndata\n\n",
			want:   []sse.Event{{Type: "message", Data: "a\nb\n"}},
		},
		{
			name:   "only one leading space is cut",
			stream: "data:  two\n\n",
			want:   []sse.Event{{Type: "message", Data: " two"}},
		},
		{
			name:   "no data, no event; the id stays",
			stream: "id: 7\nevent: status\n\ndata: d\n\n",
			want:   []sse.Event{{ID: "7", Type: "message", Data: "d"}},
			lastID: "7",
		},
		{
			name:   "an id with NUL is ignored",
			stream: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want:   []sse.Event{{ID: "1", Type: "message", Data: "a"}, {ID: "1", Type: "message", Data: "b"}},
			lastID: "1",
		},
		{
			name:   "bad retry is ignored",
			stream: "retry: soon\nretry: -5\nretry: 1500\nretry: 2x\nretry:\n\n",
			retry:  1500 * time.Millisecond,
		},
		{
			name:   "unknown fields are ignored",
			stream: "foo: bar\nevent: completed\ndata: {}\n\n",
			want:   []sse.Event{{Type: "completed", Data: "{}"}},
		},
		{
			name:   "event cut off by the end of the stream",
			stream: "event: completed\ndata: {}\n",
		},
		{
			name:     "comments only",
			stream:   ": keepalive\n\n: keepalive\n\n",
			comments: 2,
		},
		{
			name:   "a line longer than the read buffer",
			stream: "event: completed\ndata: " + strings.Repeat("가", 2000) + "\n\n",
			want:   []sse.Event{{Type: "completed", Data: strings.Repeat("가", 2000)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sse.NewReader(bufio.NewReaderSize(strings.NewReader(tt.stream), 16))
			var got []sse.Event
			for {
				ev, err := r.Next()
				if err != nil {
					assert.Contains(t, []error{io.EOF, io.ErrUnexpectedEOF}, err)
					break
				}
				got = append(got, ev)
			}
			assert.Equal(t, tt.want, got, "events of %q", tt.stream)
			assert.Equal(t, tt.retry, r.Retry(), "retry of %q", tt.stream)
			assert.Equal(t, tt.comments, r.Comments(), "comments of %q", tt.stream)
			assert.Equal(t, tt.lastID, r.LastID(), "last id of %q", tt.stream)
		})
	}
}

func TestReaderBlock(t *testing.T) {
	r := sse.NewReader(strings.NewReader(": hi\nid: 1\nevent: x\ndata: a\ndata: b\n\nretry: 5\n\ndata: c\n\n: ka\n\ndata: d\n"))
	b, err := r.Block()
	require.NoError(t, err)
	assert.Equal(t, sse.Block{
		Lines: []string{": hi", "id: 1", "event: x", "data: a", "data: b"},
		ID:    "1", LastID: "1", Type: "x", Data: "a\nb", HasData: true, Comments: []string{"hi"},
	}, b)
	ev, ok := b.Event()
	assert.True(t, ok)
	assert.Equal(t, sse.Event{ID: "1", Type: "x", Data: "a\nb"}, ev)

	b, err = r.Block()
	require.NoError(t, err)
	assert.Equal(t, sse.Block{Lines: []string{"retry: 5"}, LastID: "1", Retry: "5"}, b)
	_, ok = b.Event()
	assert.False(t, ok, "a block without data dispatches nothing")
	assert.Equal(t, 5*time.Millisecond, r.Retry())

	ev, err = r.Next()
	require.NoError(t, err)
	assert.Equal(t, sse.Event{ID: "1", Type: "message", Data: "c"}, ev)

	b, err = r.Block()
	require.NoError(t, err)
	assert.True(t, b.Comment(), "%q is a keepalive", b.Lines)

	_, err = r.Block()
	assert.Equal(t, io.ErrUnexpectedEOF, err, "a block cut off by the end")
	_, err = r.Block()
	assert.Equal(t, io.EOF, err)
}

// A lone CR ends its line at once: a stream that ends its lines with CR
// is read without waiting for a byte after the CR.
func TestReaderCRDoesNotWait(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := sse.NewReader(pr)
	got := make(chan sse.Event, 1)
	go func() {
		ev, err := r.Next()
		if err == nil {
			got <- ev
		}
	}()
	_, err := io.WriteString(pw, "data: a\r\r")
	require.NoError(t, err)
	select {
	case ev := <-got:
		assert.Equal(t, sse.Event{Type: "message", Data: "a"}, ev)
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s of its CR CR")
	}
	// A LF after a CR belongs to that CR's line: no blank line.
	go func() { _, _ = io.WriteString(pw, "\ndata: b\r\n\r\n") }()
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, sse.Event{Type: "message", Data: "b"}, ev)
}

// Reset keeps the last event ID and the retry delay, as a reconnection does.
func TestReaderReset(t *testing.T) {
	r := sse.NewReader(strings.NewReader("retry: 300\nid: 4\ndata: a\n\nevent: x\n"))
	r.SetRetry(time.Second)
	_, err := r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	assert.Equal(t, io.ErrUnexpectedEOF, err)
	r.Reset(strings.NewReader("data: b\n\n"))
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, sse.Event{ID: "4", Type: "message", Data: "b"}, ev, "the cut-off event's type is not kept")
	assert.Equal(t, 300*time.Millisecond, r.Retry())
}
