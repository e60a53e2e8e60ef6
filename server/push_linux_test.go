package server_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"jobwait/store"
)

// segmentsIn is how many TCP segments c's socket has received.
func segmentsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	var ierr error
	require.NoError(t, rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }))
	require.NoError(t, ierr)
	return info.Segs_in
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
