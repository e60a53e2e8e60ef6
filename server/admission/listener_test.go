package admission

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
)

func TestMaxConnsFor(t *testing.T) {
	tests := []struct {
		nofile uint64
		want   int
	}{
		{1024, 1024 - DefaultConnReserve},
		{1 << 20, 1<<20 - DefaultConnReserve},
		{256, 128},                               // the reserve would leave less than half
		{200, 100},                               // half
		{1, 0},                                   // absurd, but no underflow
		{0, 1<<30 - DefaultConnReserve},          // unknown
		{^uint64(0), 1<<30 - DefaultConnReserve}, // RLIM_INFINITY
	}
	for _, tt := range tests {
		if got := MaxConnsFor(tt.nofile); got != tt.want {
			t.Errorf("MaxConnsFor(%d) = %d; want %d", tt.nofile, got, tt.want)
		}
	}
}

// fakeListener's Accept answers with its func; it has no socket, so the
// listener under test has no spare descriptor to refuse with.
type fakeListener struct {
	accept func() (net.Conn, error)
}

func (f *fakeListener) Accept() (net.Conn, error) { return f.accept() }
func (f *fakeListener) Close() error              { return nil }
func (f *fakeListener) Addr() net.Addr            { return &net.TCPAddr{} }

func acceptError(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

var errEMFILE = acceptError(syscall.EMFILE)

// acceptErrors are the errors an accept may fail with, short of the
// listener's close: all are retried.
var acceptErrors = []error{errEMFILE, acceptError(syscall.ENFILE), acceptError(syscall.ENOBUFS),
	acceptError(syscall.ENOMEM), acceptError(syscall.ECONNABORTED), acceptError(syscall.EPROTO),
	os.ErrDeadlineExceeded}

// logLines is a JSON log written by a Conns, for counting lines.
type logLines struct{ servertest.Buffer }

// count is the number of lines at level (WARN, INFO).
func (l *logLines) count(level string) int {
	return strings.Count(l.String(), `"level":"`+level+`"`)
}

// testRefusal is a refusal as the server writes it.
var testRefusal = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
	"Retry-After: 2\r\nConnection: close\r\nContent-Length: 18\r\n\r\n{\"code\":\"SVC_001\"}")

func newTestLimit(max int) (*Conns, *logLines) {
	var logs logLines
	// No cap per address here (see conns_test.go).
	cfg := Config{MaxConns: max, MaxConnsPerIP: 1 << 30, FirstByteTimeout: time.Minute,
		Refusal: testRefusal, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	return NewConns(cfg), &logs
}

// TestAcceptBacksOff: failing accepts (out of descriptors, out of buffers,
// aborted, timed out) are retried after 5 ms, doubling up to 1 s, never
// returned; a connection accepted resets the delay; an episode is logged
// once when it starts and once when it is over, with every refusal and
// error it counted.
func TestAcceptBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const fails = 12
		var calls []time.Time
		var next []net.Conn // after each run of fails errors
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		next = append(next, a)
		fl := &fakeListener{accept: func() (net.Conn, error) {
			calls = append(calls, time.Now())
			if len(calls)%(fails+1) != 0 {
				return nil, acceptErrors[len(calls)%len(acceptErrors)]
			}
			if len(next) == 0 {
				return nil, net.ErrClosed
			}
			c := next[0]
			next = next[1:]
			return c, nil
		}}
		lim, logs := newTestLimit(10)
		l := lim.Listen(fl)

		c, err := l.Accept()
		require.NoError(t, err, "accept errors are retried, never returned")
		want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000}
		require.Len(t, calls, fails+1)
		for i, d := range want {
			assert.Equal(t, d*time.Millisecond, calls[i+1].Sub(calls[i]), "delay before retry %d", i+1)
		}
		assert.EqualValues(t, fails, lim.acceptErrors.Load())
		assert.EqualValues(t, 1, lim.open.Load())
		assert.Equal(t, 1, logs.count("WARN"), "one warning for the episode")
		assert.Equal(t, 0, logs.count("INFO"), "a connection a backoff after the last error does not end the episode")
		lim.refusedFor(atCap, netip.Addr{})
		time.Sleep(episodeQuiet)
		lim.admitted()
		assert.Equal(t, 1, logs.count("INFO"), "a quiet spell, then a connection: the episode is over")
		assert.Contains(t, logs.String(), `"refused":1,"accept_errors":12`, "the episode counts every refusal and error")

		// The next run of errors starts again at 5 ms, and ends with the
		// listener closed: Accept returns then, and only then.
		_, err = l.Accept()
		assert.ErrorIs(t, err, net.ErrClosed)
		assert.Equal(t, 5*time.Millisecond, calls[fails+2].Sub(calls[fails+1]), "the delay resets after a success")
		assert.Equal(t, 2, logs.count("WARN"), "a new episode")
		require.NoError(t, c.Close())
		assert.EqualValues(t, 0, lim.open.Load())
	})
}

// TestEpisodeEndsWhenQuiet: the episode is over, and logged so once, at
// the first connection admitted episodeQuiet after the last trouble.
func TestEpisodeEndsWhenQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, logs := newTestLimit(10)
		lim.failed(errEMFILE)
		lim.refusedFor(atCap, netip.Addr{})
		lim.admitted()
		assert.Equal(t, 0, logs.count("INFO"))
		time.Sleep(episodeQuiet)
		lim.admitted()
		lim.admitted()
		assert.Equal(t, 1, logs.count("WARN"))
		assert.Equal(t, 1, logs.count("INFO"))
		assert.Contains(t, logs.String(), `"lasted":"0s"`)
		lim.refusedFor(atCap, netip.Addr{})
		assert.Equal(t, 2, logs.count("WARN"), "a new episode")
	})
}

// TestCloseEndsBackoff: Close ends a backoff at once; Accept returns.
func TestCloseEndsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := make(chan struct{})
		fl := &fakeListener{accept: func() (net.Conn, error) {
			select {
			case <-closed:
				return nil, net.ErrClosed
			default:
				return nil, errEMFILE
			}
		}}
		lim, _ := newTestLimit(10)
		l := lim.Listen(fl)
		done := make(chan error)
		go func() {
			_, err := l.Accept()
			done <- err
		}()
		time.Sleep(10 * time.Second) // deep in the 1 s backoffs
		synctest.Wait()
		start := time.Now()
		close(closed)
		require.NoError(t, l.Close())
		err := <-done
		assert.ErrorIs(t, err, net.ErrClosed)
		assert.Zero(t, time.Since(start), "Accept returns at Close, not at the end of its backoff")
	})
}

// listenLimited listens on loopback under a cap of max and serves no one:
// accepted connections are sent to the returned channel.
func listenLimited(t *testing.T, max int) (*Conns, *logLines, string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim, logs := newTestLimit(max)
	l := lim.Listen(ln)
	t.Cleanup(func() { l.Close() })
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	return lim, logs, ln.Addr().String(), conns
}

func receive(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		require.NotNil(t, c)
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted within 5s")
		return nil
	}
}

// readRefusal reads a refused connection to its end.
func readRefusal(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := io.ReadAll(c)
	require.NoError(t, err, "closed with FIN, not reset")
	assert.True(t, strings.HasPrefix(string(resp), "HTTP/1.1 503 Service Unavailable\r\n"), "%q", resp)
	for _, h := range []string{"Retry-After: 2\r\n", "Connection: close\r\n", "Content-Type: application/json\r\n", `{"code":"SVC_001"`} {
		assert.Contains(t, string(resp), h)
	}
}

// TestRefusalArrivesWhole: a client whose request is in before its
// connection is refused gets the whole refusal and a FIN, not a reset:
// what it sent is read and dropped first.
func TestRefusalArrivesWhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim, _ := newTestLimit(0)
	l := lim.Listen(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("p", 3000)+"\r\n\r\n")
	require.NoError(t, err)
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept() // refuses c, then waits for the next one
		accepted <- err
	}()
	readRefusal(t, c)
	assert.EqualValues(t, 1, lim.refused[atCap].Load())
	require.NoError(t, l.Close())
	select {
	case err := <-accepted:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return within 5s of Close")
	}
}

// TestCapRefusesAndReleasesOnce: past the cap a connection gets the fixed
// 503 and is closed; a connection's slot is given back once, however
// often it is closed; then a new connection is admitted.
func TestCapRefusesAndReleasesOnce(t *testing.T) {
	lim, logs, addr, conns := listenLimited(t, 2)
	var clients []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	s1, s2 := receive(t, conns), receive(t, conns)
	assert.EqualValues(t, 2, lim.open.Load())

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	readRefusal(t, c)
	assert.EqualValues(t, 1, lim.refused[atCap].Load())
	assert.Equal(t, 1, logs.count("WARN"))

	require.NoError(t, s1.Close())
	_ = s1.Close()
	_ = s1.Close()
	assert.EqualValues(t, 1, lim.open.Load(), "one slot given back, however often closed")
	_ = clients[1].Close() // a client that leaves: the server's close gives the slot back
	buf := make([]byte, 1)
	_, err = s2.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, s2.Close())
	assert.EqualValues(t, 0, lim.open.Load())

	c3, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c3.Close()
	s3 := receive(t, conns)
	defer s3.Close()
	assert.EqualValues(t, 1, lim.open.Load())
}

// TestWrappedConnWritesWithWritev pins what held connections rely on: a
// connection under the cap still takes net.Buffers in one writev, hands
// out its socket (for the held connections' peeks and pushes) and takes
// deadlines.
func TestWrappedConnWritesWithWritev(t *testing.T) {
	_, _, addr, conns := listenLimited(t, 10)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	s := receive(t, conns)
	defer s.Close()
	require.IsType(t, &tcpConn{}, s)
	sc, ok := s.(syscall.Conn)
	require.True(t, ok, "the socket is reachable for peeks and pushes")
	raw, err := sc.SyscallConn()
	require.NoError(t, err)
	var peeked error
	require.NoError(t, raw.Read(func(fd uintptr) bool {
		_, _, peeked = syscall.Recvfrom(int(fd), make([]byte, 1), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}))
	assert.ErrorIs(t, peeked, syscall.EAGAIN, "a peek of the socket finds it open, nothing to read")
	require.NoError(t, s.SetReadDeadline(time.Now().Add(time.Second)))

	parts := make(net.Buffers, 64)
	for i := range parts {
		parts[i] = []byte(strconv.Itoa(i%10) + ",")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadWrites(t)
	n, err := parts.WriteTo(s)
	after := threadWrites(t)
	require.NoError(t, err)
	assert.EqualValues(t, 128, n)
	assert.Equal(t, 1, after-before, "write syscalls for 64 buffers: one writev")
}

// threadWrites is the write syscalls made by this thread so far.
func threadWrites(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/thread-self/io")
	require.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no syscw in /proc/thread-self/io")
	return 0
}

// TestTCPConnTakesSlotsMethods pins the embedding tcpConn relies on: slot's
// Read, Close and deadline setters win over *net.TCPConn's, which net
// declares one level deeper. A TCPConn that declared them itself would
// make them ambiguous (no build); here a nil TCPConn is never called.
func TestTCPConnTakesSlotsMethods(t *testing.T) {
	lim := newLimit(10, 10)
	server, client := net.Pipe()
	defer client.Close()
	c := &tcpConn{}
	c.lim, c.conn, c.firstBy = lim, server, time.Now().Add(time.Minute)
	lim.open.Add(1)
	var nc net.Conn = c
	require.NoError(t, nc.SetDeadline(time.Now().Add(5*time.Second)))
	go func() { _, _ = client.Write([]byte("x")) }()
	var b [1]byte
	n, err := nc.Read(b[:])
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, busy, phase(c.phase.Load()), "the first byte read through slot")
	require.NoError(t, nc.Close())
	assert.Zero(t, lim.open.Load(), "Close gave the slot back")
}
