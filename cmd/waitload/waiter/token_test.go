package waiter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
)

// TestToken: the tokens waitload mints are jobwait's wait tokens, for their
// jobs only, and travel as a browser's client sends them.
func TestToken(t *testing.T) {
	secret := []byte("a-test-secret-of-at-least-32-bytes-for-hs256")
	v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, Secret: secret})
	require.NoError(t, err)
	tok, err := Token(secret, "job-a", "job-b")
	require.NoError(t, err)
	g, err := v.Check(context.Background(), tok, []string{"job-b", "job-a"}, time.Now())
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(TokenTTL), g.Expires, 2*time.Second)
	_, err = v.Check(context.Background(), tok, []string{"job-c"}, time.Now())
	assert.ErrorIs(t, err, auth.ErrForbidden)

	w := &waiter{token: tok}
	tests := []struct{ path, extra, wantPath, wantExtra string }{
		{"/api/events/jobs/a/stream", "Accept: text/event-stream\r\n", "/api/events/jobs/a/stream?access_token=" + tok, "Accept: text/event-stream\r\n"},
		{"/api/events/jobs/stream?ids=a,b", "", "/api/events/jobs/stream?ids=a,b&access_token=" + tok, ""},
		{"/api/events/jobs/a/status?wait=30", "", "/api/events/jobs/a/status?wait=30", "Authorization: Bearer " + tok + "\r\n"},
	}
	for _, tt := range tests {
		path, extra := w.withToken(tt.path, tt.extra)
		if path != tt.wantPath || extra != tt.wantExtra {
			t.Errorf("withToken(%q, %q) = %q, %q; want %q, %q", tt.path, tt.extra, path, extra, tt.wantPath, tt.wantExtra)
		}
	}
	path, extra := (&waiter{}).withToken("/api/events/jobs/a/stream", "")
	assert.Equal(t, "/api/events/jobs/a/stream", path, "no token, nothing added")
	assert.Empty(t, extra)
}
