package server_test

// The wait token check of every way to wait, driven through the handlers
// (app.Test) over a hub that knows no job: the rules alone, no Redis. The
// real binary's end-to-end tests are cmd/jobwait/auth_test.go's.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/stream"
)

// hubSpy is a Hub that knows no job (JOB_001) and counts the jobs it was
// asked to watch or read: a request that reaches it has passed the token check,
// and one that does not has touched neither admission nor Redis.
type hubSpy struct{ watched atomic.Int64 }

func (h *hubSpy) Watch(context.Context, string) (*stream.Waiter[*server.Answer], *server.Answer, error) {
	h.watched.Add(1)
	return nil, nil, store.ErrNotFound
}
func (h *hubSpy) Peek(context.Context, string) (*server.Answer, error) {
	h.watched.Add(1)
	return nil, store.ErrNotFound
}
func (h *hubSpy) Mode() stream.Mode   { return stream.Keyspace }
func (h *hubSpy) Ready() bool         { return true }
func (h *hubSpy) Stats() stream.Stats { return stream.Stats{Mode: stream.Keyspace, Live: true} }

// tokenApp is a server checking tokens with cfg over a hubSpy, Redis
// reported up.
func tokenApp(t *testing.T, cfg auth.Config) (*server.Server, *hubSpy) {
	t.Helper()
	v, err := auth.New(context.Background(), cfg)
	require.NoError(t, err)
	spy := &hubSpy{}
	up := func() server.RedisHealth { return server.RedisHealth{State: "up"} }
	return server.New(server.Config{Auth: v, Redis: up}, nil, spy), spy
}

// waitWays are the URLs of every way to wait for the jobs ids: short
// poll, long poll and stream, of one job (when there is one) and of many.
func waitWays(ids ...string) []string {
	list := strings.Join(ids, ",")
	ways := []string{
		"/api/events/jobs/status?ids=" + list,
		"/api/events/jobs/status?ids=" + list + "&wait=5",
		"/api/events/jobs/stream?ids=" + list,
	}
	if len(ids) == 1 {
		base := "/api/events/jobs/" + ids[0]
		ways = append(ways, base+"/status", base+"/status?wait=5", base+"/stream")
	}
	return ways
}

// withToken is a request for path carrying token as a Bearer header, or
// (query) as ?access_token=; "" carries none.
func withToken(path, token string, query bool) *http.Request {
	if token != "" && query {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + auth.QueryParam + "=" + url.QueryEscape(token)
	}
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" && !query {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// answer sends r and returns its status, headers and error body.
func answer(t *testing.T, s *server.Server, r *http.Request) (int, http.Header, server.Error) {
	t.Helper()
	resp, err := s.App().Test(r, 5000)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e server.Error
	require.NoError(t, json.Unmarshal(data, &e), "%s: body %s", r.URL, data)
	return resp.StatusCode, resp.Header, e
}

// TestTokenRefusals: every way to wait, a token in the header or the
// query, refuses each kind of bad token with 401 AUTH_001 and
// WWW-Authenticate: Bearer, and a valid token that does not list every
// job asked for with 403 AUTH_002, before the hub is asked (so before
// admission and Redis); each refusal is counted by its reason. A valid
// token passes; a bad job id is JOB_002 before any token is looked at.
func TestTokenRefusals(t *testing.T) {
	secret := authtest.Secret(32)
	s, spy := tokenApp(t, auth.Config{Mode: auth.Required, Secret: secret, Issuer: "event-service"})
	key := authtest.HS256(secret)
	now := time.Now()
	claims := func(jobs ...string) authtest.Claims {
		c := authtest.For(now, 5*time.Minute, jobs...)
		c.Issuer = "event-service"
		return c
	}
	valid := authtest.Sign(t, key, claims("job-a", "job-b"))
	refused := authtest.Refusals(t, key, "event-service", "job-a")
	unauthorized := `{"code":"AUTH_001","message":"` + auth.MessageUnauthorized + `"}`
	for _, tt := range refused {
		t.Run(tt.Name, func(t *testing.T) {
			for i, path := range waitWays("job-a") {
				code, h, e := answer(t, s, withToken(path, tt.Token, i%2 == 0))
				assert.Equal(t, http.StatusUnauthorized, code, path)
				assert.Equal(t, "Bearer", h.Get("WWW-Authenticate"), path)
				assert.Equal(t, "no-store", h.Get("Cache-Control"), path)
				got, _ := json.Marshal(e)
				assert.JSONEq(t, unauthorized, string(got), path)
			}
		})
	}
	t.Run("another job", func(t *testing.T) {
		other := authtest.Sign(t, key, claims("job-b"))
		for _, tc := range []struct {
			token string
			ids   []string
		}{
			{other, []string{"job-a"}},
			{valid, []string{"job-a", "job-c"}}, // one listed job not allowed
			{valid, []string{"job-c", "job-a", "job-b"}},
		} {
			for i, path := range waitWays(tc.ids...) {
				code, h, e := answer(t, s, withToken(path, tc.token, i%2 == 1))
				assert.Equal(t, http.StatusForbidden, code, path)
				assert.Equal(t, auth.CodeForbidden, e.Code, path)
				assert.Equal(t, auth.MessageForbidden, e.Message, path)
				assert.Empty(t, h.Get("WWW-Authenticate"), path)
			}
		}
	})
	assert.Zero(t, spy.watched.Load(), "a refused request reached the hub")

	t.Run("bad ids first", func(t *testing.T) {
		for _, path := range []string{"/api/events/jobs/a:b/status", "/api/events/jobs/a:b/stream", "/api/events/jobs/stream?ids=job-a,a*b"} {
			code, _, e := answer(t, s, withToken(path, "", false))
			assert.Equal(t, http.StatusBadRequest, code, path)
			assert.Equal(t, "JOB_002", e.Code, path)
		}
	})

	m, err := servertest.MetricsFrom(s.App().Test(httptest.NewRequest(http.MethodGet, "/metrics", nil), 5000))
	require.NoError(t, err)
	want := map[auth.Reason]float64{}
	for _, tt := range refused {
		want[tt.Reason] += 6
	}
	for reason, n := range want {
		assert.Equal(t, n, m.Sum(auth.MetricRejections, auth.LabelCode, auth.CodeUnauthorized, auth.LabelReason, string(reason)), reason)
	}
	assert.Equal(t, 12.0, m.Sum(auth.MetricRejections, auth.LabelCode, auth.CodeForbidden, auth.LabelReason, string(auth.ReasonJobs)))

	t.Run("valid", func(t *testing.T) {
		for i, path := range append(waitWays("job-a"), waitWays("job-b", "job-a")...) {
			code, _, e := answer(t, s, withToken(path, valid, i%2 == 0))
			assert.Equal(t, http.StatusNotFound, code, "%s: past the check, the hub knows no job", path)
			assert.Equal(t, "JOB_001", e.Code, path)
		}
		assert.Equal(t, int64(6+2*3), spy.watched.Load(), "the hub was asked for each job of each request")
	})
}

// TestTokenModes: off looks at nothing, not even an Authorization header
// that is no token; optional serves a request without a token and checks
// one that is sent.
func TestTokenModes(t *testing.T) {
	secret := authtest.Secret(32)
	valid := authtest.Sign(t, authtest.HS256(secret), authtest.For(time.Now(), time.Minute, "job-a"))
	forged := authtest.Sign(t, authtest.HS256(authtest.Secret(32)), authtest.For(time.Now(), time.Minute, "job-a"))
	off, _ := tokenApp(t, auth.Config{})
	optional, _ := tokenApp(t, auth.Config{Mode: auth.Optional, Secret: secret})
	tests := []struct {
		name   string
		s      *server.Server
		header string
		query  string
		code   int
	}{
		{"off, a bogus header", off, "Basic dXNlcjpwYXNz", "", 404},
		{"off, a forged token", off, "Bearer " + forged, "", 404},
		{"off, an empty access_token", off, "", "&" + auth.QueryParam + "=", 404},
		{"optional, no token", optional, "", "", 404},
		{"optional, a valid token", optional, "Bearer " + valid, "", 404},
		{"optional, a forged token", optional, "Bearer " + forged, "", 401},
		{"optional, a forged token in the query", optional, "", "&" + auth.QueryParam + "=" + forged, 401},
		{"optional, a bogus header", optional, "Basic dXNlcjpwYXNz", "", 401},
		{"optional, an empty access_token", optional, "", "&" + auth.QueryParam + "=", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range waitWays("job-a") {
				if !strings.Contains(path, "?") {
					path += "?x=1"
				}
				r := httptest.NewRequest(http.MethodGet, path+tt.query, nil)
				if tt.header != "" {
					r.Header.Set("Authorization", tt.header)
				}
				code, _, _ := answer(t, tt.s, r)
				assert.Equal(t, tt.code, code, path)
			}
		})
	}
}

// TestReadinessOfTokenKeys: /readyz reports the wait token keys; a key
// set never fetched makes jobwait not ready (every token would be
// refused), one that cannot be fetched again leaves it ready, degraded,
// with the keys fetched before; the key set's metrics follow.
func TestReadinessOfTokenKeys(t *testing.T) {
	ready := func(t *testing.T, s *server.Server) (int, map[string]any) {
		t.Helper()
		resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), 5000)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	metrics := func(t *testing.T, s *server.Server) servertest.Metrics {
		t.Helper()
		m, err := servertest.MetricsFrom(s.App().Test(httptest.NewRequest(http.MethodGet, "/metrics", nil), 5000))
		require.NoError(t, err)
		return m
	}

	t.Run("off", func(t *testing.T) {
		s, _ := tokenApp(t, auth.Config{})
		code, body := ready(t, s)
		assert.Equal(t, 200, code)
		assert.Equal(t, map[string]any{"mode": "off", "source": "none"}, body["auth"])
		m := metrics(t, s)
		for _, name := range []string{auth.MetricJWKSStale, auth.MetricJWKSKeys, auth.MetricJWKSFetches} {
			assert.Contains(t, m, name, "exported with the mode off too")
			assert.Zero(t, m.Sum(name), name)
		}
	})
	t.Run("secret", func(t *testing.T) {
		s, _ := tokenApp(t, auth.Config{Mode: auth.Required, Secret: authtest.Secret(32)})
		code, body := ready(t, s)
		assert.Equal(t, 200, code)
		assert.Equal(t, "ok", body["status"])
		assert.Equal(t, map[string]any{"mode": "required", "source": "secret"}, body["auth"])
	})
	t.Run("key set never fetched", func(t *testing.T) {
		jwks := authtest.StartJWKS(t, authtest.ES256("k1").Public())
		jwks.Fail(http.StatusServiceUnavailable)
		s, _ := tokenApp(t, auth.Config{Mode: auth.Optional, JWKSURL: jwks.URL()})
		code, body := ready(t, s)
		assert.Equal(t, 503, code)
		assert.Equal(t, "unavailable", body["status"])
		assert.Contains(t, body["reason"], "JOBWAIT_AUTH_JWKS_URL")
		a, _ := body["auth"].(map[string]any)
		assert.Equal(t, "jwks", a["source"])
		assert.Equal(t, 0.0, a["keys"])
		assert.Equal(t, true, a["stale"])
		assert.Contains(t, a["error"], "503")
		assert.Nil(t, a["fetched"])
		m := metrics(t, s)
		assert.Equal(t, 0.0, m.Sum("jobwait_ready"))
		assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSFetches, auth.LabelResult, "error"))
	})
	t.Run("key set stale", func(t *testing.T) {
		jwks := authtest.StartJWKS(t, authtest.ES256("k1").Public(), authtest.RS256("k2").Public())
		// Every kid the set lacks is fetched for, at once.
		s, _ := tokenApp(t, auth.Config{Mode: auth.Required, JWKSURL: jwks.URL(), JWKSRetry: time.Nanosecond})
		code, body := ready(t, s)
		require.Equal(t, 200, code)
		assert.Equal(t, "ok", body["status"])
		a, _ := body["auth"].(map[string]any)
		assert.Equal(t, 2.0, a["keys"])
		assert.NotEmpty(t, a["fetched"])
		assert.Nil(t, a["stale"])

		jwks.Fail(http.StatusBadGateway)
		// A kid the set lacks makes jobwait fetch it again: that fetch fails.
		unknown := authtest.Sign(t, authtest.ES256("k9"), authtest.For(time.Now(), time.Minute, "job-a"))
		code, _, _ = answer(t, s, withToken("/api/events/jobs/job-a/status", unknown, false))
		assert.Equal(t, 401, code)
		known := authtest.Sign(t, authtest.ES256("k1"), authtest.For(time.Now(), time.Minute, "job-a"))
		code, _, e := answer(t, s, withToken("/api/events/jobs/job-a/status", known, false))
		assert.Equal(t, 404, code, "the cached key still checks tokens: %v", e)

		code, body = ready(t, s)
		assert.Equal(t, 200, code, "stale but usable keys: still ready")
		assert.Equal(t, "degraded", body["status"])
		assert.Contains(t, body["reason"], "stale")
		a, _ = body["auth"].(map[string]any)
		assert.Equal(t, true, a["stale"])
		assert.Contains(t, a["error"], "502")
		assert.Equal(t, 2.0, a["keys"])
		m := metrics(t, s)
		assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSStale))
		assert.Equal(t, 2.0, m.Sum(auth.MetricJWKSKeys))
		assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSFetches, auth.LabelResult, "ok"))
		assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSFetches, auth.LabelResult, "error"))
		assert.Equal(t, 1.0, m.Sum("jobwait_ready"))
	})
}
