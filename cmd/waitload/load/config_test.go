package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedisOptions(t *testing.T) {
	o, _, err := redisOptions("redis://redis.example.com:6380/3")
	require.NoError(t, err)
	assert.Equal(t, "redis.example.com:6380", o.Addr)
	assert.Equal(t, 3, o.DB)
	o, _, err = redisOptions("rediss://10.1.1.1:6379/0")
	require.NoError(t, err)
	assert.NotNil(t, o.TLSConfig)
	_, co, err := redisOptions("redis://127.0.0.1:7000?addr=10.0.0.2:7001")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:7000", "10.0.0.2:7001"}, co.Addrs)
	_, _, err = redisOptions("http://127.0.0.1:6379")
	assert.Error(t, err)
}
