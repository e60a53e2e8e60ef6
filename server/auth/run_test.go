package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
)

// keyServer is a key set answered in memory, for the tests of Run's clock
// under synctest (a loopback server's goroutines would live outside the
// bubble): the tests of real HTTP are in jwks_test.go.
type keyServer struct {
	mu      sync.Mutex
	body    []byte
	down    bool
	fetches []time.Time
}

func (k *keyServer) set(keys ...jose.JSONWebKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.body, k.down = must(json.Marshal(jose.JSONWebKeySet{Keys: keys})), false
}

func (k *keyServer) fail() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.down = true
}

func (k *keyServer) times() []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Time(nil), k.fetches...)
}

func (k *keyServer) RoundTrip(r *http.Request) (*http.Response, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetches = append(k.fetches, time.Now())
	if k.down {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(strings.NewReader(string(k.body))), Request: r}, nil
}

// Run fetches the set every JWKSRefresh, so a withdrawn key stops being
// trusted; while fetches fail it retries every JWKSRetry, and goes back to
// JWKSRefresh once one succeeds. It returns when its context ends.
func TestRunRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := &keyServer{}
		ks.set(keySet()...)
		v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, JWKSURL: "https://events.example/jwks",
			HTTPClient: &http.Client{Transport: ks}, Logger: quiet})
		require.NoError(t, err)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- v.Run(ctx) }()

		rs := authtest.Sign(t, authtest.RS256(kidRS), with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(24 * time.Hour) }))
		ks.set(authtest.ES256(kidES).Public()) // the RSA key is withdrawn
		time.Sleep(auth.DefaultJWKSRefresh - time.Second)
		synctest.Wait()
		_, err = v.Check(context.Background(), rs, []string{"job-a"}, time.Now())
		assert.NoError(t, err, "before the refresh, the cached key")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Len(t, ks.times(), 2, "New's fetch and Run's")
		assert.Equal(t, 1, v.Health().Keys)

		ks.fail()
		time.Sleep(auth.DefaultJWKSRefresh)
		synctest.Wait()
		require.True(t, v.Health().Stale)
		time.Sleep(3*auth.DefaultJWKSRetry + time.Second)
		synctest.Wait()
		assert.Len(t, ks.times(), 6, "three retries a minute apart while failing")
		assert.Equal(t, uint64(4), v.Health().FetchErrors)
		assert.Equal(t, 1, v.Health().Keys, "failures keep the keys")

		ks.set(keySet()...)
		time.Sleep(auth.DefaultJWKSRetry)
		synctest.Wait()
		assert.False(t, v.Health().Stale)
		assert.Len(t, ks.times(), 7)
		time.Sleep(auth.DefaultJWKSRefresh - 3*time.Second)
		synctest.Wait()
		assert.Len(t, ks.times(), 7, "no retry once a fetch succeeds")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Len(t, ks.times(), 8, "back to the refresh interval")

		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("Run did not return when its context ended")
		}
		fetches := ks.times()
		for i := 1; i < len(fetches); i++ {
			assert.GreaterOrEqual(t, fetches[i].Sub(fetches[i-1]), auth.DefaultJWKSRetry, "fetch %d came %v after the one before", i, fetches[i].Sub(fetches[i-1]))
		}
	})
}

// Without a key set, Run has nothing to do and returns at once.
func TestRunWithoutKeySet(t *testing.T) {
	for _, v := range []*auth.Verifier{newSecret(t, auth.Required), must(auth.New(context.Background(), auth.Config{})), nil} {
		assert.NoError(t, v.Run(context.Background()))
	}
}
