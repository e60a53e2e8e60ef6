package authtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// JWKS is a key set served over HTTP on loopback. It counts the fetches,
// and a test changes its keys, makes it fail, or holds its answers.
type JWKS struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int           // 0: 200 with body
	hold   chan struct{} // non-nil: answers wait until it is closed
}

// StartJWKS serves keys until the test ends.
func StartJWKS(t testing.TB, keys ...jose.JSONWebKey) *JWKS {
	t.Helper()
	j := &JWKS{}
	j.Set(keys...)
	j.srv = httptest.NewServer(http.HandlerFunc(j.serve))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *JWKS) serve(w http.ResponseWriter, r *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	body, status, hold := j.body, j.status, j.hold
	j.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "key set unavailable", status)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

// URL is the key set's address.
func (j *JWKS) URL() string { return j.srv.URL + "/.well-known/jwks.json" }

// Fetches is how many requests the key set has answered or is answering.
func (j *JWKS) Fetches() int { return int(j.fetches.Load()) }

// Set serves keys from now on, and ends a failure.
func (j *JWKS) Set(keys ...jose.JSONWebKey) {
	j.SetBody(must(json.Marshal(jose.JSONWebKeySet{Keys: keys})))
}

// SetBody serves body as it is from now on, and ends a failure.
func (j *JWKS) SetBody(body []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.body, j.status = body, 0
}

// Fail answers every fetch with status from now on (Set ends it).
func (j *JWKS) Fail(status int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status = status
}

// Stop closes the server: fetches are refused at connect.
func (j *JWKS) Stop() { j.srv.Close() }

// Hold makes fetches wait until the returned release is called.
func (j *JWKS) Hold() (release func()) {
	ch := make(chan struct{})
	j.mu.Lock()
	j.hold = ch
	j.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) }) // a closed hold holds nothing
}
