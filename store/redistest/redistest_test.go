package redistest

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStartWithTakesFreshPortsWhenOneIsTaken: a server whose port was
// taken before it could bind is launched again with fresh args.
func TestStartWithTakesFreshPortsWhenOneIsTaken(t *testing.T) {
	SkipIfShort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	s, err := startWith(t.TempDir(), func() ([]string, error) {
		calls++
		if calls == 1 {
			return []string{"--port", strconv.Itoa(port)}, nil // the later --port wins
		}
		return nil, nil
	})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	assert.Equal(t, 2, calls)
	assert.NotEqual(t, port, s.Port())
	assert.NoError(t, s.Client(t).Ping(context.Background()).Err())
}
