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
	"time"
)

const (
	readBufSize = 1 << 10  // per connection
	maxBody     = 64 << 10 // a status answer is about 1 KiB
	dialTimeout = 10 * time.Second
	grace       = 5 * time.Second // past a wait's end, the server's answer is still waited for
)

// waiter is the state one waiter's mode loop works with: its wait and its
// own HTTP/1.1 connection, kept alive between requests.
type waiter struct {
	h        *Holder
	job      string
	token    string // the wait token sent with every request; "" none
	start    time.Time
	deadline time.Time // the waiter's own budget ends
	asked    time.Time // the first request sent
	requests int
	rejected int

	nc       net.Conn // nil between a closed connection and the next request
	br       *bufio.Reader
	reusable bool        // false once the server asked to close or an answer was not read to its end
	unwatch  func() bool // stops the context's hold on nc
}

// connect opens the waiter's connection, the dials in flight bounded. When
// ctx ends it is made to fail at once: a blocked read does not see a context.
func (w *waiter) connect(ctx context.Context) error {
	h := w.h
	select {
	case h.dials <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.dials }()
	nd := net.Dialer{Timeout: dialTimeout, KeepAlive: -1}
	if h.spec.Sources > 0 {
		// All of 127.0.0.0/8 reaches the loopback interface on Linux, and
		// each source address has its own range of ephemeral ports.
		i := h.next.Add(1) % uint64(h.spec.Sources)
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
	}
	nc, err := nd.DialContext(ctx, "tcp", h.t.dial)
	if err != nil {
		return err
	}
	if h.t.tls != nil {
		tc := tls.Client(nc, h.t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	w.nc, w.br, w.reusable = nc, bufio.NewReaderSize(nc, readBufSize), true
	w.unwatch = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	return nil
}

// request sends a GET for path (below the target's base path) with extra
// header lines ("Name: value\r\n") and reads the response head, failing at
// deadline; it dials again after an answer that closed the connection.
func (w *waiter) request(ctx context.Context, path, extra string, deadline time.Time) (*http.Response, error) {
	if w.nc != nil && !w.reusable {
		w.hangUp()
	}
	if w.nc == nil {
		if err := w.connect(ctx); err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
	}
	w.nc.SetDeadline(deadline)
	if ctx.Err() != nil {
		w.nc.SetDeadline(time.Now()) // the context's own may have come first
	}
	if w.requests++; w.requests == 1 {
		w.asked = time.Now()
	}
	path, extra = w.withToken(path, extra)
	req := "GET " + w.h.t.base + path + " HTTP/1.1\r\nHost: " + w.h.t.host +
		"\r\nUser-Agent: waitload\r\n" + extra + "\r\n"
	if _, err := io.WriteString(w.nc, req); err != nil {
		w.hangUp()
		return nil, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.hangUp()
		return nil, fmt.Errorf("read response: %w", err)
	}
	w.reusable = !resp.Close
	return resp, nil
}

// readBody reads a whole (small) answer and the time it was complete.
func (w *waiter) readBody(resp *http.Response) ([]byte, time.Time, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	at := time.Now()
	resp.Body.Close()
	if err != nil {
		w.reusable = false
		return nil, at, fmt.Errorf("read body: %w", err)
	}
	return body, at, nil
}

// hangUp closes the waiter's connection, if it has one.
func (w *waiter) hangUp() {
	if w.nc != nil {
		w.unwatch()
		w.nc.Close()
		w.nc = nil
	}
}

// retryAfter reads a Retry-After in whole seconds; def when absent or odd.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// sleepUntil waits until t or the context ends; an ended context wins.
func sleepUntil(ctx context.Context, t time.Time) error {
	if time.Until(t) <= 0 {
		return ctx.Err()
	}
	select {
	case <-time.After(time.Until(t)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
