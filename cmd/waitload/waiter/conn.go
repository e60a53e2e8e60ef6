package waiter

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	readBufSize = 1 << 10  // per connection
	maxBody     = 64 << 10 // a status answer is about 1 KiB
	dialTimeout = 10 * time.Second
	grace       = 5 * time.Second // past a wait's end, the server's answer is still waited for
)

// dialer opens waiters' connections, spread over the source addresses, with
// a bound on attempts in flight. It knows every open connection so that stop
// can end all waits at once: a blocked read does not see a context.
type dialer struct {
	t       Target
	tls     *tls.Config // the target's, for its host and HTTP/1.1; nil for http
	sources []*net.Dialer
	next    atomic.Uint64
	sem     chan struct{}

	mu      sync.Mutex
	live    map[*conn]struct{}
	stopped bool
}

func newDialer(t Target, sources, concurrency, offset int) *dialer {
	d := &dialer{t: t, sem: make(chan struct{}, concurrency), live: map[*conn]struct{}{}}
	if t.tls != nil {
		d.tls = t.tls.Clone()
		d.tls.ServerName, d.tls.NextProtos = t.name, []string{"http/1.1"}
	}
	// Source addresses 127.0.0.2 onwards, round robin: all of 127.0.0.0/8
	// is routed to the loopback interface on Linux without configuration,
	// and each source address has its own range of ephemeral ports.
	for i := range sources {
		a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
		d.sources = append(d.sources, &net.Dialer{Timeout: dialTimeout, KeepAlive: -1, LocalAddr: a})
	}
	if len(d.sources) == 0 {
		d.sources = []*net.Dialer{{Timeout: dialTimeout, KeepAlive: -1}}
	}
	d.next.Store(uint64(offset))
	return d
}

// dial opens one waiter's own connection.
func (d *dialer) dial(ctx context.Context) (*conn, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.sem }()
	nd := d.sources[d.next.Add(1)%uint64(len(d.sources))]
	nc, err := nd.DialContext(ctx, "tcp", d.t.dial)
	if err != nil {
		return nil, err
	}
	if d.tls != nil {
		tc := tls.Client(nc, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	c := &conn{nc: nc, br: bufio.NewReaderSize(nc, readBufSize), d: d, reusable: true}
	d.mu.Lock()
	d.live[c] = struct{}{}
	if d.stopped {
		nc.SetDeadline(time.Now())
	}
	d.mu.Unlock()
	return c, nil
}

// stop makes every open connection fail now, and any opened later at once.
func (d *dialer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	for c := range d.live {
		c.nc.SetDeadline(time.Now())
	}
}

// conn is one HTTP/1.1 connection, kept alive between requests.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	d        *dialer
	reusable bool // false once the server asked to close or an answer was not read to its end
}

// get sends a GET for path (below the target's base path) with extra
// header lines ("Name: value\r\n") and reads the response head, failing at
// deadline.
func (c *conn) get(path, extra string, deadline time.Time) (*http.Response, error) {
	c.d.mu.Lock()
	if !c.d.stopped {
		c.nc.SetDeadline(deadline)
	}
	c.d.mu.Unlock()
	req := "GET " + c.d.t.base + path + " HTTP/1.1\r\nHost: " + c.d.t.host +
		"\r\nUser-Agent: waitload\r\n" + extra + "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	c.reusable = !resp.Close
	return resp, nil
}

// readBody reads a whole (small) answer and the time it was complete.
func (c *conn) readBody(resp *http.Response) ([]byte, time.Time, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	at := time.Now()
	resp.Body.Close()
	if err != nil {
		c.reusable = false
		return nil, at, fmt.Errorf("read body: %w", err)
	}
	return body, at, nil
}

func (c *conn) close() {
	c.d.mu.Lock()
	delete(c.d.live, c)
	c.d.mu.Unlock()
	c.nc.Close()
}

// retryAfter reads a Retry-After in whole seconds; def when absent or odd.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 0 {
		return def
	}
	return time.Duration(n) * time.Second
}
