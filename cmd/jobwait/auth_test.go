package main

// Signed wait tokens (SPEC.md §9, docs/auth.md) on the real binary and a
// private redis-server: every way to wait refuses what it must, a wait
// ends with its token, a resumed stream is checked again and keeps its
// deadline, and no token reaches the log. Tokens are minted by authtest
// with go-jose, another library than jobwait's.

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
	"jobwait/server/eventid"
	"jobwait/server/servertest"
	"jobwait/stream/streamtest"
)

// tokenIssuer is the iss of the tests' tokens, JOBWAIT_AUTH_ISSUER.
const tokenIssuer = "event-service"

// tokenRig is a rig whose jobwait checks tokens in mode with an HS256
// secret (JOBWAIT_AUTH_ISSUER set), and the key that signs its tokens.
func tokenRig(t *testing.T, mode auth.Mode, env ...string) (*rig, authtest.Key) {
	t.Helper()
	// Printable, as an environment variable must be.
	secret := []byte(base64.RawURLEncoding.EncodeToString(authtest.Secret(32)))
	env = append([]string{"JOBWAIT_AUTH=" + string(mode), "JOBWAIT_AUTH_SECRET=" + string(secret),
		"JOBWAIT_AUTH_ISSUER=" + tokenIssuer}, env...)
	return newRig(t, nil, env...), authtest.HS256(secret)
}

// waitToken mints a token for jobs, valid from now for ttl (negative:
// expired that long ago).
func waitToken(t *testing.T, k authtest.Key, ttl time.Duration, jobs ...string) string {
	t.Helper()
	c := authtest.For(time.Now(), ttl, jobs...)
	if ttl < 0 {
		c = authtest.For(time.Now().Add(2*ttl), -ttl, jobs...)
	}
	c.Issuer = tokenIssuer
	return authtest.Sign(t, k, c)
}

// way is one way to wait for jobs, its URL below the API.
type way struct {
	name   string
	path   string
	stream bool
}

// waysFor are the ways to wait for ids: on a job's own URLs when there is
// one, and on the many-job URLs.
func waysFor(ids ...string) []way {
	list := strings.Join(ids, ",")
	ws := []way{
		{"many short poll", "/api/events/jobs/status?ids=" + list, false},
		{"many long poll", "/api/events/jobs/status?ids=" + list + "&wait=1", false},
		{"many stream", "/api/events/jobs/stream?ids=" + list, true},
	}
	if len(ids) == 1 {
		base := "/api/events/jobs/" + ids[0]
		ws = append(ws, way{"short poll", base + "/status", false}, way{"long poll", base + "/status?wait=1", false},
			way{"stream", base + "/stream", true})
	}
	return ws
}

// withQuery adds name=value to path's query.
func withQuery(path, name, value string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + name + "=" + url.QueryEscape(value)
}

// tokenCall sends w with token as EventSource would (?access_token=) on a
// stream and as fetch would (Authorization: Bearer) otherwise, with extra
// header lines; "" sends none. It returns the answer with its head read.
func tokenCall(t *testing.T, r *rig, w way, token string, header ...string) *servertest.Conn {
	t.Helper()
	path := w.path
	switch {
	case token != "" && w.stream:
		path = withQuery(path, auth.QueryParam, token)
	case token != "":
		header = append(header, "Authorization: Bearer "+token)
	}
	return servertest.MustGet(t, r.jw.Addr, path, header...)
}

// tokenRefused requires c to be the JSON refusal code (401 with its challenge,
// or 403).
func tokenRefused(t *testing.T, c *servertest.Conn, code string, at string) {
	t.Helper()
	body, err := c.ReadAll(5 * time.Second)
	require.NoError(t, err, at)
	var e struct{ Code, Message string }
	require.NoError(t, json.Unmarshal(body, &e), "%s: %s", at, body)
	assert.Equal(t, code, e.Code, "%s: %s", at, body)
	switch code {
	case auth.CodeUnauthorized:
		assert.Equal(t, http.StatusUnauthorized, c.Resp.StatusCode, at)
		assert.Equal(t, "Bearer", c.Resp.Header.Get("WWW-Authenticate"), at)
		assert.Equal(t, auth.MessageUnauthorized, e.Message, at)
	case auth.CodeForbidden:
		assert.Equal(t, http.StatusForbidden, c.Resp.StatusCode, at)
		assert.Equal(t, auth.MessageForbidden, e.Message, at)
	}
}

// served requires c to be a wait served: a stream whose first event is a
// job's status, or a 200 JSON answer.
func served(t *testing.T, c *servertest.Conn, w way) {
	t.Helper()
	require.Equal(t, http.StatusOK, c.Resp.StatusCode, w.name)
	if w.stream {
		assert.Equal(t, "status", c.Event(t, 5*time.Second).Type, w.name)
		return
	}
	body, err := c.ReadAll(5 * time.Second)
	require.NoError(t, err, w.name)
	assert.Contains(t, string(body), `"status":"PENDING"`, w.name)
}

// TestWaitTokensOnEveryWay: with JOBWAIT_AUTH=required every way to wait
// serves a valid token for its jobs, in the header or the query; refuses
// each kind of bad token 401 AUTH_001 with WWW-Authenticate: Bearer, and
// a valid token for another job (or not for every listed job) 403
// AUTH_002; a bad id is still JOB_002 first. A refusal reads nothing from
// Redis, and is counted by its reason.
func TestWaitTokensOnEveryWay(t *testing.T) {
	t.Parallel()
	r, key := tokenRig(t, auth.Required)
	jobs := r.jobs.Jobs(t, 2)
	a, b := jobs[0].JobID, jobs[1].JobID
	valid := waitToken(t, key, 5*time.Minute, a)

	t.Run("served", func(t *testing.T) {
		both := waitToken(t, key, 5*time.Minute, b, a)
		for _, w := range append(waysFor(a), waysFor(a, b)...) {
			served(t, tokenCall(t, r, w, both), w)
			if !w.stream { // the other way round: the header on a stream, the query on a poll
				served(t, servertest.MustGet(t, r.jw.Addr, withQuery(w.path, auth.QueryParam, both)), w)
			} else {
				served(t, servertest.MustGet(t, r.jw.Addr, w.path, "Authorization: Bearer "+both), w)
			}
		}
	})

	// The served streams end with their jobs; once jobwait watches nothing,
	// no read of theirs (a confirmation's, a safety re-read) lands in the count.
	for _, j := range jobs {
		require.NoError(t, r.jobs.Complete(context.Background(), j))
	}
	streamtest.EventuallyEqual(t, 10*time.Second, "watched jobs", 0.0, func() float64 {
		return servertest.Metric(r.jw.URL(), "jobwait_hub_watched_jobs")
	})
	reads := r.hubReads()
	refused := authtest.Refusals(t, key, tokenIssuer, a)
	for _, tt := range refused {
		t.Run(tt.Name, func(t *testing.T) {
			for _, w := range waysFor(a) {
				tokenRefused(t, tokenCall(t, r, w, tt.Token), auth.CodeUnauthorized, w.name)
			}
			before := servertest.Metric(r.jw.URL(), auth.MetricRejections, auth.LabelReason, string(tt.Reason))
			tokenRefused(t, tokenCall(t, r, waysFor(a)[0], tt.Token), auth.CodeUnauthorized, "counted")
			assert.Equal(t, before+1, servertest.Metric(r.jw.URL(), auth.MetricRejections, auth.LabelReason, string(tt.Reason)), "counted by its reason")
		})
	}
	t.Run("another job", func(t *testing.T) {
		for _, w := range append(waysFor(b), waysFor(a, b)...) {
			tokenRefused(t, tokenCall(t, r, w, valid), auth.CodeForbidden, w.name)
		}
		assert.Positive(t, servertest.Metric(r.jw.URL(), auth.MetricRejections, auth.LabelCode, auth.CodeForbidden))
	})
	t.Run("no oracle", func(t *testing.T) {
		// A job that does not exist is refused as one that does: without
		// a token, nobody learns which ids are jobs.
		for _, w := range waysFor("no-such-job") {
			tokenRefused(t, tokenCall(t, r, w, ""), auth.CodeUnauthorized, w.name)
			tokenRefused(t, tokenCall(t, r, w, valid), auth.CodeForbidden, w.name)
		}
	})
	assert.Equal(t, reads, r.hubReads(), "a refused request read no job")

	t.Run("bad ids first", func(t *testing.T) {
		for _, path := range []string{"/api/events/jobs/a:b/status?wait=1", "/api/events/jobs/a:b/stream", "/api/events/jobs/stream?ids=" + a + ",a*"} {
			c := servertest.MustGet(t, r.jw.Addr, path)
			assert.Equal(t, http.StatusBadRequest, c.Resp.StatusCode, path)
			body, _ := c.ReadAll(5 * time.Second)
			assert.Contains(t, string(body), "JOB_002", path)
		}
	})
}

// TestWaitTokenModes: optional serves a request without a token and checks
// one that is sent; off (the default) serves whatever Authorization or
// access_token comes along, as before tokens existed.
func TestWaitTokenModes(t *testing.T) {
	t.Parallel()
	t.Run("optional", func(t *testing.T) {
		r, key := tokenRig(t, auth.Optional)
		j := r.jobs.Jobs(t, 1)[0].JobID
		for _, w := range waysFor(j) {
			served(t, tokenCall(t, r, w, ""), w)
			served(t, tokenCall(t, r, w, waitToken(t, key, time.Minute, j)), w)
			tokenRefused(t, tokenCall(t, r, w, waitToken(t, authtest.HS256(authtest.Secret(32)), time.Minute, j)), auth.CodeUnauthorized, w.name)
			tokenRefused(t, tokenCall(t, r, w, waitToken(t, key, time.Minute, "another-job")), auth.CodeForbidden, w.name)
		}
	})
	t.Run("off", func(t *testing.T) {
		r := newRig(t, nil)
		j := r.jobs.Jobs(t, 1)[0].JobID
		for _, w := range waysFor(j) {
			served(t, servertest.MustGet(t, r.jw.Addr, w.path, "Authorization: Basic dXNlcjpwYXNz"), w)
			served(t, servertest.MustGet(t, r.jw.Addr, withQuery(w.path, auth.QueryParam, "not-a-token")), w)
		}
		code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, map[string]any{"mode": "off", "source": "none"}, body["auth"])
	})
}

// TestStreamEndsWithItsToken: a stream whose token expires before its
// budget ends then with one problem event AUTH_001, for one job and for
// many; its id resumes the same wait. A resume with an expired token is
// refused; one with a fresh token keeps the stream's first deadline and
// sends what the client has not had.
func TestStreamEndsWithItsToken(t *testing.T) {
	t.Parallel()
	const budget, life = 8 * time.Second, 2 * time.Second
	r, key := tokenRig(t, auth.Required, "JOBWAIT_WAIT_BUDGET="+budget.String())
	jobs := r.jobs.Jobs(t, 3)
	expired := func(ids ...string) string { return waitToken(t, key, -time.Minute, ids...) }

	t.Run("one job", func(t *testing.T) {
		j := jobs[0]
		w := waysFor(j.JobID)[5]
		start := time.Now()
		short := waitToken(t, key, life, j.JobID)
		c := tokenCall(t, r, w, short)
		require.Equal(t, http.StatusOK, c.Resp.StatusCode)
		first := c.Event(t, 5*time.Second)
		require.Equal(t, "status", first.Type)
		evs := c.EventsToEnd(t, budget)
		ended := time.Now()
		require.Len(t, evs, 1)
		last := evs[0]
		assert.Equal(t, "problem", last.Type)
		assert.JSONEq(t, `{"code":"AUTH_001","message":"`+auth.MessageUnauthorized+`"}`, last.Data)
		assert.GreaterOrEqual(t, ended.Sub(start), life-time.Second, "ended at the token's exp (whole seconds), not before")
		assert.Less(t, ended.Sub(start), budget-time.Second, "ended before the budget")
		id, ok := eventid.Parse(last.ID)
		require.True(t, ok, "event id %q", last.ID)
		assert.False(t, id.Final, "the token's end is not the wait's: a resume goes on")
		firstID, _ := eventid.Parse(first.ID)
		assert.Equal(t, firstID.Deadline, id.Deadline, "the stream's own deadline")

		resume := "Last-Event-ID: " + last.ID
		// The token just expired, within the leeway for clocks: taken,
		// and the stream ends again at once, after the job's state.
		c = tokenCall(t, r, w, short, resume)
		require.Equal(t, http.StatusOK, c.Resp.StatusCode)
		evs = c.EventsToEnd(t, 5*time.Second)
		require.Len(t, evs, 2)
		assert.Equal(t, []string{"status", "problem"}, []string{evs[0].Type, evs[1].Type})
		tokenRefused(t, tokenCall(t, r, w, expired(j.JobID), resume), auth.CodeUnauthorized, "resumed with an expired token")
		tokenRefused(t, tokenCall(t, r, w, "", resume), auth.CodeUnauthorized, "resumed without a token")
		c = tokenCall(t, r, w, waitToken(t, key, 5*time.Minute, j.JobID), resume)
		require.Equal(t, http.StatusOK, c.Resp.StatusCode)
		ev := c.Event(t, 5*time.Second)
		assert.Equal(t, "status", ev.Type)
		next, _ := eventid.Parse(ev.ID)
		assert.Equal(t, id.Deadline, next.Deadline, "the resumed stream keeps the first deadline")
		evs = c.EventsToEnd(t, budget)
		require.NotEmpty(t, evs)
		assert.Equal(t, "timeout", evs[len(evs)-1].Type)
		assert.WithinDuration(t, id.Deadline, time.Now(), time.Second, "timed out at the first deadline, not a budget after the resume")
	})

	t.Run("many jobs", func(t *testing.T) {
		a, b := jobs[1], jobs[2]
		w := waysFor(a.JobID, b.JobID)[2]
		c := tokenCall(t, r, w, waitToken(t, key, life, a.JobID, b.JobID))
		require.Equal(t, http.StatusOK, c.Resp.StatusCode)
		evs := c.EventsToEnd(t, budget)
		require.Len(t, evs, 3, "two statuses, then the token's end")
		last := evs[2]
		assert.Equal(t, "problem", last.Type)
		assert.JSONEq(t, `{"code":"AUTH_001","message":"`+auth.MessageUnauthorized+`"}`, last.Data, "the stream's end, no job's")
		id, ok := eventid.ParseMany(last.ID, 50)
		require.True(t, ok, "event id %q", last.ID)
		assert.False(t, id.Final)

		fresh := waitToken(t, key, 5*time.Minute, a.JobID, b.JobID)
		tokenRefused(t, tokenCall(t, r, w, waitToken(t, key, 5*time.Minute, a.JobID), "Last-Event-ID: "+last.ID), auth.CodeForbidden, "a fresh token for one of the jobs")
		c = tokenCall(t, r, w, fresh, "Last-Event-ID: "+last.ID)
		require.Equal(t, http.StatusOK, c.Resp.StatusCode)
		for range 2 { // neither job had ended: both are sent again
			assert.Equal(t, "status", c.Event(t, 5*time.Second).Type)
		}
		require.NoError(t, r.jobs.Complete(t.Context(), a))
		ev := c.Event(t, 5*time.Second)
		assert.Equal(t, "completed", ev.Type)
		assert.Contains(t, ev.Data, a.JobID)
		ev = c.Event(t, budget)
		assert.Equal(t, "timeout", ev.Type)
		assert.Contains(t, ev.Data, b.JobID)
		assert.WithinDuration(t, id.Deadline, time.Now(), time.Second, "timed out at the first deadline")
	})
}

// TestLongPollEndsWithItsToken: a long poll whose token expires before its
// wait is answered then with the jobs' current state, as at its deadline.
func TestLongPollEndsWithItsToken(t *testing.T) {
	t.Parallel()
	const life = 2 * time.Second
	r, key := tokenRig(t, auth.Required)
	jobs := r.jobs.Jobs(t, 2)
	a, b := jobs[0].JobID, jobs[1].JobID
	for _, path := range []string{"/api/events/jobs/" + a + "/status?wait=30", "/api/events/jobs/status?ids=" + a + "," + b + "&wait=30"} {
		start := time.Now()
		c := tokenCall(t, r, way{path: path}, waitToken(t, key, life, a, b))
		body, err := c.ReadAll(40 * time.Second)
		require.NoError(t, err)
		took := time.Since(start)
		assert.Equal(t, http.StatusOK, c.Resp.StatusCode, path)
		assert.Contains(t, string(body), `"status":"PENDING"`, path)
		assert.Contains(t, string(body), `"timedOut":true`, path)
		assert.GreaterOrEqual(t, took, life-time.Second, "%s: held until the token's exp", path)
		assert.Less(t, took, 10*time.Second, "%s: answered at the token's exp, not the wait's", path)
	}
}

// TestWaitTokensNeverLogged: with the log at debug, requests that carry a
// token in the header or the query, served or refused, malformed ones
// among them, leave no trace of it in jobwait's whole log (which says why
// each was refused).
func TestWaitTokensNeverLogged(t *testing.T) {
	t.Parallel()
	r, key := tokenRig(t, auth.Required, "JOBWAIT_LOG_LEVEL=debug")
	j := r.jobs.Jobs(t, 1)[0].JobID
	valid := waitToken(t, key, 5*time.Minute, j)
	forged := waitToken(t, authtest.HS256(authtest.Secret(32)), 5*time.Minute, j)
	other := waitToken(t, key, 5*time.Minute, "another-job")
	tokens := []string{valid, forged, other}
	for _, tok := range tokens {
		for _, w := range waysFor(j) { // a refusal is logged before it is sent
			tokenCall(t, r, w, tok)
			tokenCall(t, r, way{path: w.path, stream: !w.stream}, tok)
		}
		// Requests fasthttp cannot read, the token in the request line:
		// a header without a colon, and headers past the read buffer.
		for _, req := range []string{
			"GET /api/events/jobs/" + j + "/status?access_token=" + tok + " HTTP/1.1\r\nHost: jobwait\r\nno colon here\r\n\r\n",
			"GET /api/events/jobs/" + j + "/stream?access_token=" + tok + " HTTP/1.1\r\nHost: jobwait\r\nX-Big: " + strings.Repeat("x", 9000) + "\r\n\r\n",
			"GET /api/events/jobs/" + j + "/status HTTP/1.1\r\nHost: jobwait\r\nAuthorization: Bearer " + tok + "\r\nno colon here\r\n\r\n",
			// fasthttp's own errors quote the bytes after a space in the
			// request line, a header line without a colon, a URI with a
			// NUL, a request line without a version.
			"GET /api/events/jobs/" + j + "/status?x=a b&access_token=" + tok + " HTTP/1.1\r\nHost: jobwait\r\n\r\n",
			"GET /api/events/jobs/" + j + "/status HTTP/1.1\r\nHost: jobwait\r\nAuthorization Bearer " + tok + "\r\n\r\n",
			"GET /api/events/jobs/" + j + "/status?access_token=" + tok + "\x00 HTTP/1.1\r\nHost: jobwait\r\n\r\n",
			"GET /api/events/jobs/" + j + "/status?access_token=" + tok + "\r\n\r\n",
		} {
			c := rawRequest(t, r.jw.Addr, req)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.ReadAll(c)
		}
	}
	log := r.jw.Log()
	require.Contains(t, log, `"code":"AUTH_001"`, "the refusals are logged at debug")
	require.Contains(t, log, `"code":"REQ_004"`, "the malformed requests are logged at debug")
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		assert.False(t, strings.Contains(log, sig), "a token's signature is in the log")
		assert.False(t, strings.Contains(log, tok[:strings.LastIndexByte(tok, '.')]), "a token's header and payload are in the log")
	}
}

// TestWaitTokenKeySet: a jobwait whose keys come from a JSON Web Key Set
// checks RS256 and ES256 tokens by kid and refuses algorithm confusion
// (HS256 keyed with the published RSA key), alg none and a wrong key; a
// kid it lacks makes it fetch the set once (not before a minute since the
// last fetch), then refuse; with the set down it goes on with the keys it
// has, ready, and /readyz and the metrics say the set is stale.
func TestWaitTokenKeySet(t *testing.T) {
	t.Parallel()
	rs, es := authtest.RS256("rs-1"), authtest.ES256("es-1")
	jwks := authtest.StartJWKS(t, rs.Public(), es.Public())
	r := newRig(t, nil, "JOBWAIT_AUTH=required", "JOBWAIT_AUTH_JWKS_URL="+jwks.URL())
	started := time.Now()
	require.Equal(t, 1, jwks.Fetches(), "fetched at start")
	j := r.jobs.Jobs(t, 1)[0].JobID
	sign := func(k authtest.Key) string { return authtest.Sign(t, k, authtest.For(time.Now(), 5*time.Minute, j)) }
	stream := waysFor(j)[5]
	poll := waysFor(j)[3]

	for _, k := range []authtest.Key{rs, es} {
		served(t, tokenCall(t, r, stream, sign(k)), stream)
		served(t, tokenCall(t, r, poll, sign(k)), poll)
	}
	der, err := x509.MarshalPKIXPublicKey(rs.Public().Key)
	require.NoError(t, err)
	confused := authtest.HS256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	confused.KID = rs.KID
	for name, tok := range map[string]string{
		"algorithm confusion": sign(confused),
		"alg none":            authtest.Unsigned(map[string]any{"alg": "none", "kid": rs.KID}, authtest.For(time.Now(), time.Minute, j).Payload(), nil),
		"wrong key":           sign(authtest.OtherRS256(rs.KID)),
		"no kid":              sign(authtest.Key{Alg: es.Alg, Private: es.Private}),
		"unknown kid":         sign(authtest.ES256("es-new")),
	} {
		tokenRefused(t, tokenCall(t, r, poll, tok), auth.CodeUnauthorized, name)
	}
	assert.Equal(t, 1, jwks.Fetches(), "no fetch within a minute of the last")

	jwks.Fail(http.StatusServiceUnavailable)
	unknown := sign(authtest.ES256("es-2"))
	// Asked for now and then until the minute since the first fetch is up;
	// then the kid it lacks makes jobwait fetch the set once.
	streamtest.Eventually(t, time.Minute+20*time.Second, "a fetch for an unknown kid", func() bool {
		tokenRefused(t, tokenCall(t, r, poll, unknown), auth.CodeUnauthorized, "unknown kid")
		return jwks.Fetches() == 2
	})
	assert.GreaterOrEqual(t, time.Since(started), time.Minute-time.Second)
	tokenRefused(t, tokenCall(t, r, poll, unknown), auth.CodeUnauthorized, "unknown kid, the set fetched")
	assert.Equal(t, 2, jwks.Fetches(), "one fetch, then refused at once")

	served(t, tokenCall(t, r, stream, sign(rs)), stream)
	code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "the cached keys check tokens: still ready")
	assert.Equal(t, "degraded", body["status"])
	keys, _ := body["auth"].(map[string]any)
	assert.Equal(t, map[string]any{"mode": "required", "source": "jwks", "keys": 2.0, "fetched": keys["fetched"],
		"stale": true, "error": "key set answered 503 Service Unavailable"}, keys)
	m, err := servertest.ReadMetrics(r.jw.URL())
	require.NoError(t, err)
	assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSStale))
	assert.Equal(t, 2.0, m.Sum(auth.MetricJWKSKeys))
	assert.Equal(t, 1.0, m.Sum(auth.MetricJWKSFetches, auth.LabelResult, "error"))
	assert.Equal(t, 1.0, m.Sum("jobwait_ready"))
	assert.Positive(t, m.Sum(auth.MetricRejections, auth.LabelReason, string(auth.ReasonKID)))
	assert.Positive(t, m.Sum(auth.MetricRejections, auth.LabelReason, string(auth.ReasonAlgorithm)))
}

// TestWaitTokensAcrossOrigins: a page of a listed origin may send the
// token's Authorization header (preflight) and read a refusal with its
// WWW-Authenticate; never with credentials.
func TestWaitTokensAcrossOrigins(t *testing.T) {
	t.Parallel()
	const page = "https://events.example.com"
	r, _ := tokenRig(t, auth.Required, "JOBWAIT_CORS_ORIGINS="+page)
	j := r.jobs.Jobs(t, 1)[0].JobID
	req, _ := http.NewRequest(http.MethodOptions, statusURL(r.jw.URL(), j), nil)
	req.Header.Set("Origin", page)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization, last-event-id")
	resp, err := r.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, page, resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization")
	assert.Empty(t, resp.Header.Values("Access-Control-Allow-Credentials"))

	code, h, body, err := getJSON(r.http, statusURL(r.jw.URL(), j), "Origin", page)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, auth.CodeUnauthorized, body["code"])
	assert.Equal(t, page, h.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate")
	assert.Empty(t, h.Values("Access-Control-Allow-Credentials"))
}
