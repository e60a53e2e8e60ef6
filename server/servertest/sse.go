package servertest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"jobwait/server/sse"
)

// Conn is one request written by hand on its own connection and its
// response read with net/http's parser, so that thousands of clients cost
// no transport goroutines. Every read is bounded by a deadline.
type Conn struct {
	net.Conn
	Resp   *http.Response
	br     *bufio.Reader
	events *sse.Reader
}

// Get dials addr, sends GET path with extra header lines ("Last-Event-ID:
// x") and reads the response's head within limit.
func Get(addr, path string, limit time.Duration, header ...string) (*Conn, error) {
	return (&Source{d: net.Dialer{Timeout: 5 * time.Second}}).Get(addr, path, limit, header...)
}

// Again sends GET path on the kept-alive connection (read the last response
// whole first) and reads the new response's head within limit.
func (c *Conn) Again(path string, limit time.Duration, header ...string) error {
	c.SetDeadline(time.Now().Add(limit))
	if _, err := io.WriteString(c.Conn, RawGet(path, header...)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Time{})
	c.Resp, c.events = resp, nil
	return nil
}

// RawGet is a client's GET request for path, with extra header lines.
func RawGet(path string, header ...string) string {
	head := "GET " + path + " HTTP/1.1\r\nHost: jobwait\r\n"
	for _, h := range header {
		head += h + "\r\n"
	}
	return head + "\r\n"
}

// MustGet is Get within 5 s, failing tb on an error, closed when the test ends.
func MustGet(tb testing.TB, addr, path string, header ...string) *Conn {
	tb.Helper()
	c, err := Get(addr, path, 5*time.Second, header...)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// ReadAll reads the rest of the body within limit.
func (c *Conn) ReadAll(limit time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(limit))
	return io.ReadAll(c.Resp.Body)
}

// Block is one block of an event stream and when it was read.
type Block struct {
	sse.Block
	At time.Time
}

// Raw is the block as sent, lines joined by "\n", without its blank line.
func (b Block) Raw() string { return strings.Join(b.Lines, "\n") }

// Block reads the body's next event-stream block within d: io.EOF when the
// server ended the stream between blocks, io.ErrUnexpectedEOF inside one.
func (c *Conn) Block(d time.Duration) (Block, error) {
	if c.events == nil {
		c.events = sse.NewReader(c.Resp.Body)
	}
	c.SetReadDeadline(time.Now().Add(d))
	b, err := c.events.Block()
	return Block{Block: b, At: time.Now()}, err
}

// Next reads blocks within d until one that is not only comments.
func (c *Conn) Next(tb testing.TB, d time.Duration) Block {
	tb.Helper()
	b, ok := c.until(tb, d, func(b Block) bool { return !b.Comment() })
	if !ok {
		tb.Fatalf("reading the event stream: %v", io.EOF)
	}
	return b
}

// Event reads blocks within d until one dispatches an event.
func (c *Conn) Event(tb testing.TB, d time.Duration) sse.Event {
	tb.Helper()
	b, ok := c.until(tb, d, func(b Block) bool { _, ok := b.Event(); return ok })
	if !ok {
		tb.Fatalf("reading the event stream: %v", io.EOF)
	}
	ev, _ := b.Event()
	return ev
}

// Ended requires the server to end the stream within d, comments aside,
// and returns when it did.
func (c *Conn) Ended(tb testing.TB, d time.Duration) time.Time {
	tb.Helper()
	if b, ok := c.until(tb, d, func(b Block) bool { return !b.Comment() }); ok {
		tb.Fatalf("want the end of the stream, got %q", b.Raw())
	}
	return time.Now()
}

// EventsToEnd returns the stream's events until the server ends it within d.
func (c *Conn) EventsToEnd(tb testing.TB, d time.Duration) []sse.Event {
	tb.Helper()
	var evs []sse.Event
	c.until(tb, d, func(b Block) bool {
		if ev, ok := b.Event(); ok {
			evs = append(evs, ev)
		}
		return false
	})
	return evs
}

// until reads blocks within d until want holds for one (true) or the
// server ends the stream (false); any other error fails tb.
func (c *Conn) until(tb testing.TB, d time.Duration, want func(Block) bool) (Block, bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		b, err := c.Block(time.Until(deadline))
		if err == io.EOF {
			return b, false
		}
		if err != nil {
			tb.Fatalf("reading the event stream: %v", err)
		}
		if want(b) {
			return b, true
		}
	}
}
