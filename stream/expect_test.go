package stream_test

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// Which reads expect a change, on a real redis-server: those a
// notification calls for, and a job's first read; not a poll's.

// TestPollReadsExpectNoChange: in poll mode every read is a poll, which
// seldom finds a change: Read is given no prev, and reads as little as it
// can.
func TestPollReadsExpectNoChange(t *testing.T) {
	var mu sync.Mutex
	var reads, hinted int
	f := startHubWith(t, stream.Poll, func(c *stream.Config[string], _ *redis.Client) {
		read := c.Read
		c.Read = func(ctx context.Context, ids, prev []string) ([]string, error) {
			mu.Lock()
			reads++
			if prev != nil {
				hinted++
			}
			mu.Unlock()
			return read(ctx, ids, prev)
		}
	})
	f.set(t, "polled", "PENDING")
	f.watch(t, "polled")
	streamtest.Eventually(t, hubWait, "three polls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return reads >= 4
	})
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, hinted, "reads given prev, of %d", reads)
}
