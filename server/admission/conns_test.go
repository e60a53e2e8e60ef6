package admission

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"jobwait/server/servertest"
	"jobwait/stream/streamtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// peerConn is one end of a pipe that says it comes from a TCP peer.
type peerConn struct {
	net.Conn
	peer net.Addr
}

func (c *peerConn) RemoteAddr() net.Addr { return c.peer }

// from returns a connection from addr (and the client's end of it), as the
// listener would accept it; the pipe is closed when the test ends.
func from(t *testing.T, addr string) (*peerConn, net.Conn) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	ap := netip.AddrPortFrom(netip.MustParseAddr(addr), 40000)
	return &peerConn{Conn: server, peer: net.TCPAddrFromAddrPort(ap)}, client
}

func newLimit(max, perAddr int, trusted ...string) *Conns {
	cfg := Config{MaxConns: max, MaxConnsPerIP: perAddr, FirstByteTimeout: time.Minute,
		Refusal: testRefusal, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	for _, p := range trusted {
		cfg.TrustedProxies = append(cfg.TrustedProxies, netip.MustParsePrefix(p))
	}
	return NewConns(cfg)
}

// admitFrom admits a connection from addr, failing the test if refused.
func admitFrom(t *testing.T, l *Conns, addr string) (net.Conn, net.Conn) {
	t.Helper()
	pc, client := from(t, addr)
	c, why, ok := l.admit(pc)
	require.True(t, ok, "a connection from %s refused (%s)", addr, Reasons[why])
	return c, client
}

// TestConnsPerAddress: an address holds at most its share; IPv6 is
// counted per /64, an IPv4-mapped peer as IPv4; a trusted proxy is not
// counted per address; a closed connection gives its address's place
// back, and an address with none open is forgotten.
func TestConnsPerAddress(t *testing.T) {
	l := newLimit(100, 2, "10.0.0.0/8")
	refusedFrom := func(addr string) refusal {
		t.Helper()
		pc, _ := from(t, addr)
		_, why, ok := l.admit(pc)
		require.False(t, ok, "a connection from %s admitted", addr)
		return why
	}
	a1, _ := admitFrom(t, l, "198.51.100.1")
	admitFrom(t, l, "::ffff:198.51.100.1")
	assert.Equal(t, atAddrCap, refusedFrom("198.51.100.1"))
	admitFrom(t, l, "198.51.100.2")

	admitFrom(t, l, "2001:db8::1")
	admitFrom(t, l, "2001:db8::ffff:2")
	assert.Equal(t, atAddrCap, refusedFrom("2001:db8::3"), "another address of the same /64")
	admitFrom(t, l, "2001:db8:0:1::1")

	for range 5 {
		admitFrom(t, l, "10.1.2.3") // a trusted proxy: its many clients are counted by the waiter caps
	}
	assert.EqualValues(t, 11, l.open.Load())

	require.NoError(t, a1.Close())
	require.NoError(t, a1.Close())
	admitFrom(t, l, "198.51.100.1")
	assert.Equal(t, atAddrCap, refusedFrom("198.51.100.1"), "one place given back, however often closed")
	assert.Len(t, l.byAddr, 4, "counted: 198.51.100.1, .2, 2001:db8::/64, 2001:db8:0:1::/64")
	assert.EqualValues(t, 3, l.refused[atAddrCap].Load())
	assert.Zero(t, l.refused[atCap].Load())
}

// TestAddressesForgotten: the counts per address hold only addresses with
// a connection open.
func TestAddressesForgotten(t *testing.T) {
	l := newLimit(100, 2)
	var conns []net.Conn
	for _, a := range []string{"198.51.100.1", "198.51.100.1", "2001:db8::1", "203.0.113.9"} {
		c, _ := admitFrom(t, l, a)
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	assert.Empty(t, l.byAddr)
	assert.Zero(t, l.open.Load())
}

// TestReclaimsTheLongestIdle: from the high-water mark (7/8 of the cap)
// on, each connection admitted closes the one idle longest; a connection
// that is quiet (nothing read yet), busy, or woke up again is never
// closed; with none idle, the cap refuses.
func TestReclaimsTheLongestIdle(t *testing.T) {
	const max = 16 // high-water mark 14
	l := newLimit(max, max)
	conns := make([]net.Conn, 14)
	clients := make([]net.Conn, 14)
	for i := range conns {
		conns[i], clients[i] = admitFrom(t, l, "198.51.100.1")
	}
	for _, i := range []int{3, 1, 5, 7} { // their first request, answered
		slotOf(conns[i]).phase.Store(int32(busy))
		l.Rest(conns[i])
	}
	require.True(t, l.Wake(conns[5]), "conn 5's next request begins")
	assert.EqualValues(t, 3, l.idle.n.Load())

	for _, want := range []int{3, 1, 7} {
		admitFrom(t, l, "198.51.100.2")
		assertShut(t, clients[want])
		assert.False(t, l.Wake(conns[want]), "a reclaimed connection stays gone")
		assert.EqualValues(t, 14, l.open.Load(), "one in, one out")
	}
	assert.EqualValues(t, 3, l.reclaimed.Load())
	assert.Zero(t, l.idle.n.Load())

	admitFrom(t, l, "198.51.100.2")
	admitFrom(t, l, "198.51.100.2")
	pc, _ := from(t, "198.51.100.3")
	_, why, ok := l.admit(pc)
	assert.False(t, ok)
	assert.Equal(t, atCap, why, "nothing idle: at the cap, refused")
	require.NoError(t, conns[3].Close())
	assert.EqualValues(t, max, l.open.Load(), "closing a reclaimed connection gives nothing back twice")
	for i, c := range clients {
		if i != 1 && i != 3 && i != 7 {
			assertOpen(t, c)
		}
	}
}

// TestBelowTheHighWaterMarkNothingIsReclaimed: idle connections are left
// alone while the server has room.
func TestBelowTheHighWaterMarkNothingIsReclaimed(t *testing.T) {
	l := newLimit(16, 16)
	c, client := admitFrom(t, l, "198.51.100.1")
	slotOf(c).phase.Store(int32(busy))
	l.Rest(c)
	for range 13 { // 14 open: at the mark
		admitFrom(t, l, "198.51.100.2")
	}
	assertOpen(t, client)
	assert.Zero(t, l.reclaimed.Load())
	admitFrom(t, l, "198.51.100.2") // admitted at the mark
	assert.EqualValues(t, 1, l.reclaimed.Load())
	assertShut(t, client)
}

// assertShut checks that the server's end of a pipe was closed.
func assertShut(t *testing.T, client net.Conn) {
	t.Helper()
	err := client.SetReadDeadline(time.Now().Add(5 * time.Second)) // io.ErrClosedPipe once the other end is closed
	if err == nil {
		_, err = client.Read(make([]byte, 1))
	}
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe), "the connection was closed: %v", err)
}

// assertOpen checks that the server's end of a pipe is open.
func assertOpen(t *testing.T, client net.Conn) {
	t.Helper()
	require.NoError(t, client.SetReadDeadline(time.Now().Add(10*time.Millisecond)))
	_, err := client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the connection is open")
}

// TestFirstByteDeadline: a new connection's read deadline is held to its
// first byte's, whatever its owner asks, until the first byte is read;
// then what the owner asked applies. A connection that stays silent is
// counted once.
func TestFirstByteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimit(10, 10)
		l.firstByte = 5 * time.Second
		readAfter := func(c net.Conn) (time.Duration, error) {
			start := time.Now()
			_, err := c.Read(make([]byte, 1))
			return time.Since(start), err
		}

		silent, _ := admitFrom(t, l, "198.51.100.1")
		require.NoError(t, silent.SetReadDeadline(time.Now().Add(time.Minute))) // the read timeout
		d, err := readAfter(silent)
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Equal(t, 5*time.Second, d, "cut at the first byte's deadline, not the read timeout")
		_, _ = readAfter(silent)
		assert.EqualValues(t, 1, l.silent.Load())

		talks, client := admitFrom(t, l, "198.51.100.1")
		require.NoError(t, talks.SetDeadline(time.Now().Add(time.Minute)))
		go func() {
			time.Sleep(4 * time.Second)
			_, _ = client.Write([]byte("G"))
		}()
		d, err = readAfter(talks)
		require.NoError(t, err)
		assert.Equal(t, 4*time.Second, d)
		d, err = readAfter(talks)
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Equal(t, time.Minute-4*time.Second, d, "after the first byte, the read timeout runs")
		require.NoError(t, talks.SetReadDeadline(time.Now().Add(time.Hour)))
		go func() {
			time.Sleep(30 * time.Minute)
			_, _ = client.Write([]byte("E"))
		}()
		d, err = readAfter(talks)
		require.NoError(t, err)
		assert.Equal(t, 30*time.Minute, d, "later deadlines are the owner's own")

		hasty, _ := admitFrom(t, l, "198.51.100.1")
		require.NoError(t, hasty.SetReadDeadline(time.Now().Add(2*time.Second)))
		d, err = readAfter(hasty)
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Equal(t, 2*time.Second, d, "an earlier deadline than the first byte's stands")
		assert.EqualValues(t, 2, l.silent.Load())
	})
}

// TestFasthttpAndTheConnectionCap pins what Conns relies on of
// fasthttp: it reports a new connection's first request StateActive
// before reading a byte and then sets its read timeout (held to the first
// byte's deadline: a silent connection gets 408 then); it reports
// StateIdle after each response on a kept-alive connection and
// StateActive once the next request's first byte is in (watch follows
// them); and an idle connection shut down by a reclaim is closed without
// a word.
func TestFasthttpAndTheConnectionCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{MaxConns: 2, MaxConnsPerIP: 10, FirstByteTimeout: 300 * time.Millisecond,
		Refusal: testRefusal, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	l := NewConns(cfg)
	var states servertest.ConnStates
	srv := &fasthttp.Server{
		Handler:     func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		ConnState:   states.Hook,
		ReadTimeout: time.Minute, IdleTimeout: time.Minute,
	}
	l.Watch(srv)
	go func() { _ = srv.Serve(l.Listen(ln)) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := ln.Addr().String()

	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(silent), nil)
	require.NoError(t, err, "a silent connection is answered before the read timeout")
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.EqualValues(t, 1, l.silent.Load())
	streamtest.Eventually(t, 5*time.Second, "the silent connection closed", func() bool { return l.open.Load() == 0 })

	kept, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer kept.Close()
	br := bufio.NewReader(kept)
	get := func() {
		t.Helper()
		_, err := io.WriteString(kept, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	idle := func() bool { return l.idle.n.Load() == 1 }
	get()
	streamtest.Eventually(t, 5*time.Second, "idle after a response", idle)
	get()
	streamtest.Eventually(t, 5*time.Second, "idle after a response", idle)
	conns, st := states.Get()
	assert.Equal(t, []fasthttp.ConnState{fasthttp.StateActive, fasthttp.StateIdle, fasthttp.StateActive, fasthttp.StateIdle},
		st[len(st)-4:], "states of the kept-alive connection")
	keptConn := conns[len(conns)-1]

	for range 2 { // the second finds two open: at the high-water mark
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
	}
	require.NoError(t, kept.SetReadDeadline(time.Now().Add(5*time.Second)))
	rest, err := io.ReadAll(br)
	assert.NoError(t, err, "a reclaimed connection ends with a FIN")
	assert.Empty(t, rest, "and nothing else")
	streamtest.Eventually(t, 5*time.Second, "fasthttp closed the reclaimed connection", func() bool {
		conns, st := states.Get()
		return conns[len(conns)-1] == keptConn && st[len(st)-1] == fasthttp.StateClosed
	})
	assert.EqualValues(t, 1, l.reclaimed.Load())
}

// BenchmarkRestAndWake is what the cap adds to a kept-alive request: its
// connection rests on the idle list after the response and leaves it at
// the next request (go test -bench RestAndWake -cpu 1,2 ./server/admission/).
func BenchmarkRestAndWake(b *testing.B) {
	l := newLimit(1<<20, 1<<20)
	b.RunParallel(func(pb *testing.PB) {
		server, client := net.Pipe()
		defer client.Close()
		ap := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), 40000)
		c, _, ok := l.admit(&peerConn{Conn: server, peer: net.TCPAddrFromAddrPort(ap)})
		if !ok {
			b.Fatal("refused")
		}
		defer c.Close()
		slotOf(c).phase.Store(int32(busy))
		for pb.Next() {
			l.Rest(c)
			l.Wake(c)
		}
	})
}
