package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// These tests pin the fasthttp behaviours that handing a held connection
// back (handBack) relies on, so that an upgrade that changes them fails.

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
// takes a handed-back connection off Server.handing at either.
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
