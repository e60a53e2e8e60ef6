package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"jobwait/server/servertest"
	"jobwait/store"
)

// segmentsIn is how many TCP segments c's socket has received, once
// everything it sent has been acknowledged.
func segmentsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	for range 500 {
		var ierr error
		require.NoError(t, rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }))
		require.NoError(t, ierr)
		if info.Unacked == 0 {
			return info.Segs_in
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d segments sent not acknowledged within 5 s", info.Unacked)
	return 0
}

// A stream's last event and the FIN that closes its connection arrive in
// one segment: the fan-out holds the event's bytes for the close.
func TestStreamEndRidesWithItsFIN(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	id := jsonJob{}.create(t, e)
	sse := openSSE(t, e, id)
	ev := sse.Next(t, 5*time.Second)
	requireSSEEvent(t, ev, "status", ev.ID)
	e.waiters(t, 1)

	before := segmentsIn(t, sse.Conn)
	jsonJob{}.set(t, e, id, store.Completed)
	ev = sse.Next(t, answeredBound)
	requireSSEEvent(t, ev, "completed", ev.ID)
	sse.Ended(t, 5*time.Second)
	require.NoError(t, sse.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := sse.Conn.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, uint32(1), segmentsIn(t, sse.Conn)-before, "the last event and the FIN in one segment")
}

// A held long poll's final answer is its connection's last (Connection:
// close), and answer and FIN arrive in one segment.
func TestFinalAnswerRidesWithItsFIN(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	id := jsonJob{}.create(t, e)
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, servertest.RawGet(jobStatusPath(id)+"?wait=10"))
	require.NoError(t, err)
	e.waiters(t, 1)

	before := segmentsIn(t, c)
	jsonJob{}.set(t, e, id, store.Completed)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "COMPLETED", decodeBody(t, body)["status"])
	assert.True(t, resp.Close, "the final answer says it is its connection's last")
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, uint32(1), segmentsIn(t, c)-before, "the answer and the FIN in one segment")
}
