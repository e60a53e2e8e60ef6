package web_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth/authtest"
	"jobwait/server/sse"
	"jobwait/stream/streamtest"
)

// authProxy stands in front of a real jobwait (tokens off) for the client's
// side of the signed wait tokens of SPEC.md §9, under the test's control:
// it passes the API requests that carry the one valid token
// (Authorization: Bearer on requests, ?access_token= on streams), answers
// the others 401 AUTH_001, records what each carried, and ends the streams
// it passes with a problem event AUTH_001 when the token is rotated, as
// jobwait does when a stream's token expires. The page and its assets pass
// unchecked. TestPageWithToken runs the page against jobwait's own checks.
type authProxy struct {
	*httptest.Server
	upstream string

	mu      sync.Mutex
	valid   string
	rotated chan struct{} // closed, and replaced, at each rotate
	seen    []authSeen
}

// authSeen is what one API request carried, and what it was answered.
type authSeen struct {
	stream      bool
	bearer      string // the Authorization header's token
	accessToken string // the access_token query parameter
	lastEventID string // the lastEventId query parameter
	code        int
}

func newAuthProxy(t *testing.T, upstream, valid string) *authProxy {
	a := &authProxy{upstream: upstream, valid: valid, rotated: make(chan struct{})}
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	pass := httputil.NewSingleHostReverseProxy(u)
	pass.FlushInterval = -1
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/events/jobs/") {
			pass.ServeHTTP(w, r)
			return
		}
		s := authSeen{
			stream:      strings.HasSuffix(r.URL.Path, "/stream"),
			bearer:      strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
			accessToken: r.URL.Query().Get("access_token"),
			lastEventID: r.URL.Query().Get("lastEventId"),
		}
		token := s.bearer
		if s.stream {
			token = s.accessToken
		}
		a.mu.Lock()
		ok, rotated := token == a.valid, a.rotated
		s.code = http.StatusOK
		if !ok {
			s.code = http.StatusUnauthorized
		}
		a.seen = append(a.seen, s)
		a.mu.Unlock()
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"AUTH_001","message":"토큰이 유효하지 않습니다"}`)
		case s.stream:
			a.stream(w, r, rotated)
		default:
			pass.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

// stream passes jobwait's stream on event by event until it ends, the
// client leaves, or the token is rotated: then a problem AUTH_001 ends it.
func (a *authProxy) stream(w http.ResponseWriter, r *http.Request, rotated <-chan struct{}) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.upstream+r.URL.RequestURI(), nil)
	if err == nil {
		req.Header.Set("Last-Event-ID", r.Header.Get("Last-Event-ID"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control"} {
		w.Header().Set(h, resp.Header.Get(h))
	}
	w.WriteHeader(resp.StatusCode)
	flush := func(text string) {
		io.WriteString(w, text)
		w.(http.Flusher).Flush()
	}
	blocks := make(chan string)
	go func() {
		defer close(blocks)
		events := sse.NewReader(resp.Body)
		for {
			b, err := events.Block()
			if err != nil {
				return
			}
			select {
			case blocks <- strings.Join(b.Lines, "\n") + "\n\n":
			case <-r.Context().Done():
				return
			}
		}
	}()
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				return
			}
			flush(b)
		case <-rotated:
			flush("event: problem\ndata: {\"code\":\"AUTH_001\",\"message\":\"토큰이 만료되었습니다\"}\n\n")
			return
		case <-r.Context().Done():
			return
		}
	}
}

// rotate makes token the valid one and ends the streams open now.
func (a *authProxy) rotate(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.valid = token
	close(a.rotated)
	a.rotated = make(chan struct{})
}

func (a *authProxy) requests() []authSeen {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]authSeen(nil), a.seen...)
}

// openTokenPage opens the page through a and readies it for token waits:
// the client as window.jobwait, recordWaits, and window.__token, a
// provider whose every call returns "tok-<n>" as a promise (n counts the
// calls, in window.__tokens).
func openTokenPage(t *testing.T, a *authProxy) *tab {
	t.Helper()
	p := openPage(t, &jobwait{URL: a.URL}, "/")
	p.importClient(t)
	p.eval(t, recordWaits)
	p.eval(t, `window.__tokens = 0; window.__token = async () => 'tok-' + (++window.__tokens); ''`)
	return p
}

// TestTokenProvider: the client sends the provider's token as a Bearer
// header on requests and as ?access_token= on stream URLs, never the other
// way round; after an AUTH_001 (a 401 answer, or a stream's problem event)
// it asks the provider once for a fresh token and carries on where it
// was; an AUTH_001 to the fresh token ends the wait; a provider that
// throws ends it too.
func TestTokenProvider(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")
	for _, id := range []string{"web-tok-sse", "web-tok-lp", "web-tok-no"} {
		j.setJob(t, id, "PROCESSING", "draft-"+id)
	}

	t.Run("stream", func(t *testing.T) {
		a := newAuthProxy(t, j.URL, "tok-1")
		p := openTokenPage(t, a)
		p.eval(t, `jobwait.wait('web-tok-sse', Object.assign(__cb('web-tok-sse'), {token: __token})); ''`)
		p.waitFor(t, `__w.status['web-tok-sse'] === 'PROCESSING'`, "the stream open with the first token")
		a.rotate("tok-2") // the first token expires: the stream ends with problem AUTH_001
		p.waitFor(t, `__tokens === 2`, "a fresh token asked for")
		streamtest.Eventually(t, stepTimeout, "the stream reopened with the fresh token", func() bool {
			r := a.requests()
			return len(r) == 2 && r[1].code == http.StatusOK
		})
		j.complete(t, "web-tok-sse", "draft-web-tok-sse")
		p.waitFor(t, `!!__w.final['web-tok-sse']`, "the result over the resumed stream")
		assert.Equal(t, "completed:COMPLETED", p.finalOf(t, "web-tok-sse"))
		assert.Equal(t, "2", p.eval(t, `String(__tokens)`), "asked once at the start and once after AUTH_001")
		r := a.requests()
		require.Len(t, r, 2)
		for i, want := range []string{"tok-1", "tok-2"} {
			assert.True(t, r[i].stream, "request %d", i)
			assert.Equal(t, want, r[i].accessToken, "stream %d's ?access_token=", i)
			assert.Empty(t, r[i].bearer, "no header on a stream")
		}
		assert.Empty(t, r[0].lastEventID)
		assert.NotEmpty(t, r[1].lastEventID, "the reopened stream resumes")
		assert.Equal(t, `["sse"]`, p.eval(t, `JSON.stringify(__w.transports)`))
	})

	t.Run("requests", func(t *testing.T) {
		a := newAuthProxy(t, j.URL, "tok-2") // the provider's first token is refused
		p := openTokenPage(t, a)
		p.eval(t, `jobwait.wait('web-tok-lp', Object.assign(__cb('web-tok-lp'), {token: __token, transports: ['longpoll']})); ''`)
		awaitWaiter(t, j, "longpoll")
		j.complete(t, "web-tok-lp", "draft-web-tok-lp")
		p.waitFor(t, `!!__w.final['web-tok-lp']`, "the result of the long poll made again")
		assert.Equal(t, "completed:COMPLETED", p.finalOf(t, "web-tok-lp"))
		assert.Equal(t, "2", p.eval(t, `String(__tokens)`))
		r := a.requests()
		require.Len(t, r, 2)
		assert.Equal(t, authSeen{bearer: "tok-1", code: http.StatusUnauthorized}, r[0])
		assert.Equal(t, authSeen{bearer: "tok-2", code: http.StatusOK}, r[1], "the same request with the fresh token, in the header only")
	})

	t.Run("refused", func(t *testing.T) {
		a := newAuthProxy(t, j.URL, "none of the provider's")
		p := openTokenPage(t, a)
		p.eval(t, `jobwait.wait('web-tok-no', Object.assign(__cb('web-tok-no'), {token: __token})); ''`)
		p.eval(t, `jobwait.wait('web-tok-no', Object.assign(__cb('throws'), {token: () => { throw new Error('no session') }})); ''`)
		p.waitFor(t, `!!__w.final['web-tok-no'] && !!__w.final['throws']`, "both waits ended")
		assert.Equal(t, "error:AUTH_001", p.finalOf(t, "web-tok-no"))
		assert.Equal(t, "error:TOKEN", p.finalOf(t, "throws"))
		assert.Equal(t, "2", p.eval(t, `String(__tokens)`), "a fresh token once, not in a loop")
		var kinds []string
		for _, s := range a.requests() {
			kinds = append(kinds, fmt.Sprintf("stream=%v %s%s %d", s.stream, s.bearer, s.accessToken, s.code))
		}
		// The stream refused, the status read to learn why, the same
		// read with the fresh token: refused too.
		assert.Equal(t, []string{"stream=true tok-1 401", "stream=false tok-1 401", "stream=false tok-2 401"}, kinds)
	})
}

// TestPageWithToken: against a jobwait that requires wait tokens, the page
// opened as /?jobId=X#token=T (or &token=T) waits for X with T, over the
// stream, and takes the token out of its address at once; opened without
// one, it shows AUTH_001 and its hint.
func TestPageWithToken(t *testing.T) {
	t.Parallel()
	secret := base64.RawURLEncoding.EncodeToString(authtest.Secret(32))
	j := startJobwait(t, "JOBWAIT_DEMO=false", "JOBWAIT_AUTH=required", "JOBWAIT_AUTH_SECRET="+secret)
	key := authtest.HS256([]byte(secret))
	for _, tc := range []struct{ name, id, token string }{
		{"fragment", "web-page-fragment", "#token="},
		{"query", "web-page-query", "&token="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j.setJob(t, tc.id, "PROCESSING", "draft-"+tc.id)
			tok := authtest.Sign(t, key, authtest.For(time.Now(), 5*time.Minute, tc.id))
			p := openPage(t, j, "/?jobId="+tc.id+tc.token+tok)
			p.waitFor(t, `document.querySelector('#status').dataset.status === 'PROCESSING'`, "the job's status over the stream")
			assert.Equal(t, "sse", p.eval(t, `document.querySelector('#transport').dataset.transport`))
			assert.True(t, p.requested("access_token="+tok), "the stream sent the token")
			assert.Equal(t, "/?jobId="+tc.id, p.eval(t, `location.pathname + location.search + location.hash`), "the token left the address bar")
			j.complete(t, tc.id, "draft-"+tc.id)
			p.waitState(t, "completed")
			p.assertResult(t)
		})
	}
	t.Run("none", func(t *testing.T) {
		j.setJob(t, "web-page-none", "PROCESSING", "draft-web-page-none")
		p := openPage(t, j, "/?jobId=web-page-none")
		p.waitState(t, "error")
		assert.Equal(t, "AUTH_001", p.eval(t, `document.querySelector('#problem').dataset.code`))
		assert.Contains(t, p.text(t, "#problem-hint"), "대기 토큰")
	})
}
