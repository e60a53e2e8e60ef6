package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"jobwait/server/admission"
)

// TestNewDefaults: zero and negative settings take the defaults; others stay.
func TestNewDefaults(t *testing.T) {
	want := Config{WaitBudget: DefaultWaitBudget, PollInterval: DefaultPollInterval, Heartbeat: DefaultHeartbeat,
		MaxWaiters: DefaultMaxWaiters, ReadTimeout: DefaultReadTimeout, RedisTimeout: DefaultRedisTimeout,
		MinReadRate: DefaultMinReadRate, MaxConns: admission.MaxConnsFor(admission.FileLimit()),
		MaxConnsPerIP: admission.MaxConnsPerIPFor(admission.MaxConnsFor(admission.FileLimit())), FirstByteTimeout: DefaultFirstByteTimeout, MaxIDs: DefaultMaxIDs}
	neg := Config{WaitBudget: -1, PollInterval: -1, Heartbeat: -1, MaxWaiters: -1, ReadTimeout: -1,
		RedisTimeout: -1, MinReadRate: -1, MaxConns: -1, MaxConnsPerIP: -1, FirstByteTimeout: -1, MaxIDs: -1}
	set := Config{WaitBudget: time.Second, PollInterval: 3 * time.Second, Heartbeat: time.Minute, MaxWaiters: 7,
		ReadTimeout: 4 * time.Second, RedisTimeout: 5 * time.Second, MinReadRate: 9, MaxConns: 11,
		MaxConnsPerIP: 12, FirstByteTimeout: 14 * time.Second, MaxIDs: 13}
	for _, tt := range []struct{ in, want Config }{{Config{}, want}, {neg, want}, {set, set}} {
		got := New(tt.in, nil, nil).cfg
		assert.NotNil(t, got.Logger, "New(%+v).cfg.Logger", tt.in)
		got.Logger = nil
		assert.Equal(t, tt.want, got, "New(%+v).cfg", tt.in)
	}
}
