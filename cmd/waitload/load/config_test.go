package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/waiter"
)

func TestRedisOptions(t *testing.T) {
	o, _, err := redisOptions("redis://localhost:6379/3")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:6379", o.Addr)
	assert.Equal(t, 3, o.DB)
	_, co, err := redisOptions("redis://127.0.0.1:7000?addr=localhost:7001")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:7000", "127.0.0.1:7001"}, co.Addrs)
	_, _, err = redisOptions("redis://10.1.1.1:6379/0")
	assert.ErrorIs(t, err, waiter.ErrNotLoopback)
}
