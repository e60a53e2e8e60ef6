package held

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"jobwait/server/servertest"
)

// These tests pin the fasthttp behaviours that the held connections rely
// on (Takeover: the takeover, the release of a takeover that never ran, the
// hand-back), so that an upgrade that changes them fails.

// serveConnPair runs srv.ServeConn on the server side of a loopback TCP
// connection and returns the client side and a channel closed when
// ServeConn returns.
func serveConnPair(t *testing.T, srv *fasthttp.Server) (net.Conn, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	sc, err := ln.Accept()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(sc)
	}()
	return client, done
}

// TestServeConnStartsTheReadTimeoutAtOnce: a connection given to ServeConn
// must send its request within ReadTimeout, not IdleTimeout; so handBack
// waits for the next request's first byte itself.
func TestServeConnStartsTheReadTimeoutAtOnce(t *testing.T) {
	srv := &fasthttp.Server{
		Handler:     func(ctx *fasthttp.RequestCtx) {},
		ReadTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute,
	}
	_, done := serveConnPair(t, srv)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn kept an idle connection past its ReadTimeout; handBack's own wait can go")
	}
}

// TestServeConnReportsActiveThenClosed: ServeConn reports StateActive for
// its connection once a request begins (after counting it as open, which
// fasthttp's Shutdown waits for) and StateClosed at the end: connState
// takes a handed-back connection off Takeover.handing at either.
func TestServeConnReportsActiveThenClosed(t *testing.T) {
	var mu sync.Mutex
	var states []fasthttp.ConnState
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		ConnState: func(_ net.Conn, st fasthttp.ConnState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		},
		ReadTimeout: 5 * time.Second,
	}
	c, done := serveConnPair(t, srv)
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, states)
	assert.Equal(t, fasthttp.StateActive, states[0], "states %v", states)
	assert.Equal(t, fasthttp.StateClosed, states[len(states)-1], "states %v", states)
}

// hijacker is a handler that takes every request's connection over as
// Takeover.Hold does, sending each hijacked connection to got.
func hijacker(got chan<- net.Conn) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) { got <- c })
	}
}

// TestHijackWritesNothingAndKeepsTheConn: with HijackSetNoResponse and
// KeepHijackedConns, fasthttp writes no response, leaves the connection
// open after the hijack handler returns, hands the handler a wrapper whose
// UnsafeConn is the connection it was given, and reports the connection
// StateActive then StateHijacked, never StateClosed: a held wait writes its
// own response, owns the connection, and is not released by connState.
func TestHijackWritesNothingAndKeepsTheConn(t *testing.T) {
	var log servertest.ConnStates
	got := make(chan net.Conn, 1)
	srv := &fasthttp.Server{Handler: hijacker(got), KeepHijackedConns: true, ConnState: log.Hook, ReadTimeout: 5 * time.Second}
	client, done := serveConnPair(t, srv)
	_, err := io.WriteString(client, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	var hj net.Conn
	select {
	case hj = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the hijack handler did not run")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return after the hijack")
	}
	u, ok := hj.(interface{ UnsafeConn() net.Conn })
	require.True(t, ok, "the hijacked connection (%T) has no UnsafeConn: the takeover would read from fasthttp's pooled reader", hj)
	conns, states := log.Get()
	assert.Equal(t, []fasthttp.ConnState{fasthttp.StateActive, fasthttp.StateHijacked}, states)
	require.NotEmpty(t, conns)
	assert.Same(t, conns[0], u.UnsafeConn(), "UnsafeConn is not the connection ServeConn was given")

	// Nothing written, nothing closed: a read finds neither bytes nor EOF.
	require.NoError(t, client.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	var b [64]byte
	n, err := client.Read(b[:])
	assert.Equal(t, 0, n, "fasthttp wrote %q for a hijack without response", b[:n])
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the hijacked connection was closed")

	_, err = u.UnsafeConn().Write([]byte("mine"))
	require.NoError(t, err)
	require.NoError(t, client.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err = io.ReadFull(client, b[:4])
	require.NoError(t, err)
	assert.Equal(t, "mine", string(b[:n]))
	u.UnsafeConn().Close()
}

// TestHijackedPipelinedBytesStayInFasthttpsReader: a request pipelined
// behind a hijacked one sits in fasthttp's reader, which the hijacked
// wrapper reads first; the raw connection (UnsafeConn) no longer has it.
// So pipelined sees it through the wrapper, and the takeover answers such a
// client with Connection: close (the reader goes back to fasthttp's pool
// when the hijack handler returns).
func TestHijackedPipelinedBytesStayInFasthttpsReader(t *testing.T) {
	for _, tt := range []struct {
		send string
		want bool
	}{
		{"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n", true},
	} {
		type seen struct{ pipelined, raw bool }
		res := make(chan seen, 1)
		srv := &fasthttp.Server{KeepHijackedConns: true, ReadTimeout: 5 * time.Second, Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) {
				p := pipelined(c)
				raw := c.(interface{ UnsafeConn() net.Conn }).UnsafeConn()
				_ = raw.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				var b [1]byte
				n, _ := raw.Read(b[:])
				res <- seen{p, n > 0}
				raw.Close()
			})
		}}
		client, _ := serveConnPair(t, srv)
		_, err := io.WriteString(client, tt.send)
		require.NoError(t, err)
		select {
		case s := <-res:
			assert.Equal(t, tt.want, s.pipelined, "pipelined(%q)", tt.send)
			assert.False(t, s.raw, "the raw connection still had bytes of %q", tt.send)
		case <-time.After(10 * time.Second):
			t.Fatal("the hijack handler did not run")
		}
	}
}

// failWrites is a connection whose writes fail, as a reset one's do.
type failWrites struct{ net.Conn }

func (failWrites) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestHijackThatNeverRunsReportsClosed: when the answer pipelined ahead of
// a hijacked request cannot be written (a reset client), fasthttp closes
// the connection, reports StateClosed and never runs the hijack handler:
// connState then releases the hold (its done runs there).
func TestHijackThatNeverRunsReportsClosed(t *testing.T) {
	var log servertest.ConnStates
	got := make(chan net.Conn, 1)
	hijack := hijacker(got)
	var reached atomic.Bool
	srv := &fasthttp.Server{KeepHijackedConns: true, ConnState: log.Hook, ReadTimeout: 5 * time.Second,
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/hold" {
				reached.Store(true)
				hijack(ctx)
				return
			}
			ctx.SetBodyString("first")
		}}
	sc, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(failWrites{sc})
	}()
	// One write: fasthttp reads both requests at once, so the first answer
	// waits in its writer until the hijack flushes it.
	_, err := io.WriteString(client, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return")
	}
	require.True(t, reached.Load(), "the hijacking request was not served")
	_, states := log.Get()
	require.NotEmpty(t, states)
	assert.Equal(t, fasthttp.StateClosed, states[len(states)-1], "states %v", states)
	assert.NotContains(t, states, fasthttp.StateHijacked, "states %v", states)
	select {
	case c := <-got:
		c.Close()
		t.Fatal("the hijack handler ran on a connection fasthttp closed")
	default:
	}
}
