package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
)

// keySetCases are the tokens of a key set verifier whose set is keySet().
// attacker is a key set the tokens point to (jku) that must never be
// fetched.
func keySetCases(t testing.TB, attacker string) []tokenCase {
	rs, es, ed := authtest.RS256(kidRS), authtest.ES256(kidES), authtest.EdDSA(kidED)
	rsaPub := authtest.RS256("").Public().Key
	der := must(x509.MarshalPKIXPublicKey(rsaPub))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub.(*rsa.PublicKey))})
	named := func(k authtest.Key, kid string) authtest.Key { k.KID = kid; return k }
	job := []string{"job-a"}
	return []tokenCase{
		{"RS256", authtest.Sign(t, rs, claims("job-a")), job, 0, ""},
		{"ES256", authtest.Sign(t, es, claims("job-a")), job, 0, ""},
		{"EdDSA", authtest.Sign(t, ed, claims("job-a")), job, 0, ""},
		{"ES256 by another key", authtest.Sign(t, authtest.OtherES256(kidES), claims("job-a")), job, 0, auth.ReasonSignature},
		{"RS256 by another key", authtest.Sign(t, authtest.OtherRS256(kidRS), claims("job-a")), job, 0, auth.ReasonSignature},
		{"HS256 keyed with the RSA key's PEM", authtest.Sign(t, named(authtest.HS256(pemKey), kidRS), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"HS256 keyed with the RSA key's PKCS#1 PEM", authtest.Sign(t, named(authtest.HS256(pkcs1), kidRS), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"HS256 keyed with the RSA key's DER", authtest.Sign(t, named(authtest.HS256(der), kidRS), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"ES256 naming the RSA key", authtest.Sign(t, named(es, kidRS), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"RS256 naming the EC key", authtest.Sign(t, named(rs, kidES), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"EdDSA naming the EC key", authtest.Sign(t, named(ed, kidES), claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"PS256 with the RSA key", authtest.Sign(t, authtest.Key{Alg: jose.PS256, KID: kidRS, Private: rs.Private}, claims("job-a")), job, 0, auth.ReasonAlgorithm},
		{"alg none naming a key", authtest.Unsigned(header{"alg": "none", "kid": kidRS}, claims("job-a").Payload(), nil), job, 0, auth.ReasonAlgorithm},
		{"no kid", authtest.Sign(t, named(es, ""), claims("job-a")), job, 0, auth.ReasonKID},
		{"kid not a string", authtest.SignPayload(t, named(es, ""), claims("job-a").Payload(), header{"kid": 7}), job, 0, auth.ReasonKID},
		{"its own key embedded (jwk)", authtest.SignPayload(t, authtest.OtherES256(kidES), claims("job-a").Payload(), header{"jwk": authtest.OtherES256(kidES).Public()}), job, 0, auth.ReasonSignature},
		{"its own key set named (jku)", authtest.SignPayload(t, authtest.OtherES256(kidES), claims("job-a").Payload(), header{"jku": attacker}), job, 0, auth.ReasonSignature},
		{"expired", authtest.Sign(t, es, claims("job-a")), job, time.Hour, auth.ReasonExpired},
		{"wrong audience", authtest.Sign(t, ed, with(claims("job-a"), func(c *authtest.Claims) { c.Audience = []string{"billing"} })), job, 0, auth.ReasonAudience},
		{"a token for job A used for job B", authtest.Sign(t, rs, claims("job-a")), []string{"job-b"}, 0, auth.ReasonJobs},
		{"many ids, one not allowed", authtest.Sign(t, es, claims("job-a", "job-b")), []string{"job-a", "job-b", "job-c"}, 0, auth.ReasonJobs},
	}
}

func TestCheckKeySet(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	attacker := authtest.StartJWKS(t, authtest.OtherES256(kidES).Public())
	v := newKeySet(t, j, nil)
	for _, tc := range keySetCases(t, attacker.URL()) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(context.Background(), tc.token, tc.ids, epoch.Add(tc.at))
			assert.Equal(t, tc.want, refusal(t, err), "Check(%s) = %v; want %q", tc.name, err, tc.want)
			if err != nil {
				assert.Empty(t, leaks(err.Error(), tc.token), "the error holds the token")
			}
		})
	}
	assert.Zero(t, attacker.Fetches(), "a key set named by a token was fetched")
	assert.Equal(t, 1, j.Fetches(), "tokens of known kids fetched the key set")
}

// A kid the set lacks fetches the set once; within the retry interval the
// next unknown kid is refused at once; after it, the set is fetched again
// and a key added meanwhile is trusted.
func TestUnknownKIDRefreshesOnce(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	start := time.Now().Truncate(time.Second)
	v := newKeySet(t, j, nil)
	require.Equal(t, 1, j.Fetches(), "New fetches the set")
	fresh := authtest.OtherES256("es-2027-01")
	tok := authtest.Sign(t, fresh, with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(10 * time.Minute) }))
	check := func(at time.Duration) auth.Reason {
		_, err := v.Check(context.Background(), tok, []string{"job-a"}, start.Add(at))
		return refusal(t, err)
	}

	assert.Equal(t, auth.ReasonKID, check(time.Second), "within a minute of New's fetch")
	assert.Equal(t, 1, j.Fetches(), "an unknown kid within a minute of a fetch does not fetch")

	assert.Equal(t, auth.ReasonKID, check(61*time.Second))
	assert.Equal(t, 2, j.Fetches(), "an unknown kid fetches the set once")
	for range 5 {
		assert.Equal(t, auth.ReasonKID, check(90*time.Second))
	}
	assert.Equal(t, 2, j.Fetches(), "unknown kids within a minute of that fetch do not fetch")

	j.Set(append(keySet(), fresh.Public())...)
	assert.Equal(t, auth.ReasonKID, check(120*time.Second), "59 s after the fetch")
	assert.Equal(t, 2, j.Fetches())
	assert.Equal(t, auth.Reason(""), check(122*time.Second), "a minute after the last fetch, the new key is fetched")
	assert.Equal(t, 3, j.Fetches())
	assert.Equal(t, auth.Reason(""), check(123*time.Second))
	assert.Equal(t, 3, j.Fetches(), "a known kid fetches nothing")
	assert.Equal(t, 4, v.Health().Keys)
}

// Requests with a new kid at the same time share one fetch, and every one
// of them is allowed.
func TestUnknownKIDSharedRefresh(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	start := time.Now().Truncate(time.Second)
	v := newKeySet(t, j, nil)
	fresh := authtest.OtherES256("es-2027-01")
	j.Set(append(keySet(), fresh.Public())...)
	tok := authtest.Sign(t, fresh, with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(10 * time.Minute) }))
	release := j.Hold()
	defer release()

	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Check(context.Background(), tok, []string{"job-a"}, start.Add(61*time.Second))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return j.Fetches() == 2 }, 5*time.Second, time.Millisecond, "the refresh reaches the key set")
	release()
	for range n {
		select {
		case err := <-errs:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("a Check is still waiting for the shared refresh")
		}
	}
	assert.Equal(t, 2, j.Fetches(), "%d requests with a new kid fetched the set more than once", n)
}

// With the key set down, the keys fetched before keep working and Health
// says stale; when it is back, the next fetch clears it.
func TestKeySetDown(t *testing.T) {
	for _, down := range []struct {
		name string
		fail func(*authtest.JWKS)
	}{
		{"503", func(j *authtest.JWKS) { j.Fail(http.StatusServiceUnavailable) }},
		{"not JSON", func(j *authtest.JWKS) { j.SetBody([]byte("<html>maintenance</html>")) }},
		{"no keys member", func(j *authtest.JWKS) { j.SetBody([]byte(`{"kes":[]}`)) }},
		{"larger than the limit", func(j *authtest.JWKS) {
			j.SetBody([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", auth.DefaultJWKSMaxBytes) + `"}`))
		}},
	} {
		t.Run(down.name, func(t *testing.T) {
			var l logs
			j := authtest.StartJWKS(t, keySet()...)
			start := time.Now().Truncate(time.Second)
			v := newKeySet(t, j, &l)
			known := authtest.Sign(t, authtest.ES256(kidES), with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(10 * time.Minute) }))
			unknown := authtest.Sign(t, authtest.OtherES256("new"), with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(10 * time.Minute) }))
			require.False(t, v.Health().Stale)

			down.fail(j)
			_, err := v.Check(context.Background(), unknown, []string{"job-a"}, start.Add(61*time.Second))
			assert.Equal(t, auth.ReasonKID, refusal(t, err))
			h := v.Health()
			assert.Equal(t, 2, j.Fetches())
			assert.True(t, h.Stale, "Health after a failed fetch: %+v", h)
			assert.True(t, h.Ready(), "cached keys: still ready")
			assert.NotEmpty(t, h.Error)
			assert.Equal(t, [3]uint64{3, 2, 1}, [3]uint64{uint64(h.Keys), h.Fetches, h.FetchErrors}, "keys kept, fetches, failures")
			_, err = v.Check(context.Background(), known, []string{"job-a"}, start.Add(62*time.Second))
			assert.NoError(t, err, "a cached key works while the set is down")
			assert.Contains(t, l.String(), "key set fetch failed")

			j.Set(keySet()...)
			_, err = v.Check(context.Background(), unknown, []string{"job-a"}, start.Add(122*time.Second))
			assert.Equal(t, auth.ReasonKID, refusal(t, err))
			assert.False(t, v.Health().Stale, "a fetch that succeeds ends stale")
			assert.Contains(t, l.String(), "key set fetched again")
		})
	}
}

// A key set that is unreachable (the connection refused) at start: New
// succeeds, nothing is allowed and Health is not ready until a fetch
// succeeds.
func TestKeySetDownAtStart(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	url := j.URL()
	j.Stop()
	v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, JWKSURL: url, Logger: quiet})
	require.NoError(t, err)
	h := v.Health()
	assert.False(t, h.Ready(), "no key ever fetched: %+v", h)
	assert.True(t, h.Stale)
	assert.Equal(t, 0, h.Keys)
	tok := authtest.Sign(t, authtest.ES256(kidES), claims("job-a"))
	_, err = v.Check(context.Background(), tok, []string{"job-a"}, epoch)
	assert.Equal(t, auth.ReasonKID, refusal(t, err))
}

// A fetch that hangs ends at the timeout; requests waiting on it end with
// their own context.
func TestKeySetTimeout(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	release := j.Hold()
	defer release()
	began := time.Now()
	v := newKeySet(t, j, nil, func(c *auth.Config) { c.JWKSTimeout = 200 * time.Millisecond })
	assert.Less(t, time.Since(began), 10*time.Second, "New waited past the fetch's timeout")
	assert.True(t, v.Health().Stale)
	assert.Contains(t, v.Health().Error, "deadline")
}

// A redirect is not followed: the keys come from the URL configured.
func TestKeySetRedirectRefused(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	redirect := httptest.NewServer(http.RedirectHandler(j.URL(), http.StatusFound))
	defer redirect.Close()
	v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, JWKSURL: redirect.URL + "/jwks", Logger: quiet})
	require.NoError(t, err)
	assert.Zero(t, j.Fetches(), "the redirect was followed")
	assert.False(t, v.Health().Ready())
	assert.Contains(t, v.Health().Error, "302")
}

// rawKey is a JWK as JSON, edited.
func rawKey(k jose.JSONWebKey, edit func(map[string]any)) json.RawMessage {
	var m map[string]any
	if err := json.Unmarshal(must(json.Marshal(k)), &m); err != nil {
		panic(err)
	}
	edit(m)
	return must(json.Marshal(m))
}

// Keys that cannot be trusted are left out of the set, not the set itself;
// each is logged with why.
func TestKeySetLeavesOutUntrustedKeys(t *testing.T) {
	small := must(rsa.GenerateKey(rand.Reader, 1024))
	p384 := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	other := authtest.OtherES256("")
	keys := []json.RawMessage{}
	for _, k := range keySet() {
		keys = append(keys, must(json.Marshal(k)))
	}
	keys = append(keys,
		rawKey(other.Public(), func(m map[string]any) { delete(m, "kid") }),
		must(json.Marshal(jose.JSONWebKey{Key: []byte(strings.Repeat("k", 32)), KeyID: "oct", Algorithm: "HS256"})),
		must(json.Marshal(jose.JSONWebKey{Key: other.Private, KeyID: "private", Algorithm: "ES256"})),
		must(json.Marshal(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small", Algorithm: "RS256"})),
		must(json.Marshal(jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "p384"})),
		rawKey(other.Public(), func(m map[string]any) { m["kid"], m["use"] = "enc", "enc" }),
		rawKey(other.Public(), func(m map[string]any) { m["kid"], m["key_ops"] = "ops", []string{"encrypt"} }),
		rawKey(other.Public(), func(m map[string]any) { m["kid"], m["alg"] = "mismatch", "RS256" }),
		rawKey(other.Public(), func(m map[string]any) { m["kid"] = "dup" }),
		rawKey(authtest.ES256("").Public(), func(m map[string]any) { m["kid"] = "dup" }),
		rawKey(other.Public(), func(m map[string]any) { m["kid"], m["x"] = "off-curve", m["y"] }),
		json.RawMessage(`"not a key"`),
	)
	var l logs
	j := authtest.StartJWKS(t)
	j.SetBody(must(json.Marshal(map[string]any{"keys": keys})))
	v := newKeySet(t, j, &l)
	assert.Equal(t, 3, v.Health().Keys, "only the three good keys are trusted")
	assert.False(t, v.Health().Stale, "a set with bad keys is still a set")
	for _, kid := range []string{"private", "enc", "ops", "mismatch", "dup", "off-curve"} {
		tok := authtest.Sign(t, authtest.Key{Alg: jose.ES256, KID: kid, Private: other.Private}, claims("job-a"))
		_, err := v.Check(context.Background(), tok, []string{"job-a"}, epoch)
		assert.Equal(t, auth.ReasonKID, refusal(t, err), "a token of the untrusted key %q", kid)
	}
	tok := authtest.Sign(t, authtest.Key{Alg: jose.RS256, KID: "small", Private: small}, claims("job-a"))
	_, err := v.Check(context.Background(), tok, []string{"job-a"}, epoch)
	assert.Equal(t, auth.ReasonKID, refusal(t, err), "a token of the 1024-bit key")
	for _, why := range []string{"no kid", "secret key material published", "RSA key of 1024 bits", "P-384", `use \"enc\"`, "key_ops", `alg \"RS256\" does not fit`, "kid used twice", "not a JWK"} {
		assert.Contains(t, l.String(), why, "the log says why a key was left out")
	}
}

// A set that is fetched replaces the cache whole: a key removed from it is
// no longer trusted.
func TestKeySetRemovesKeys(t *testing.T) {
	j := authtest.StartJWKS(t, keySet()...)
	start := time.Now().Truncate(time.Second)
	v := newKeySet(t, j, nil)
	c := with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = start.Add(10 * time.Minute) })
	rsTok := authtest.Sign(t, authtest.RS256(kidRS), c)
	_, err := v.Check(context.Background(), rsTok, []string{"job-a"}, start)
	require.NoError(t, err)

	j.Set(authtest.ES256(kidES).Public(), authtest.EdDSA(kidED).Public()) // the RSA key is withdrawn
	_, err = v.Check(context.Background(), authtest.Sign(t, authtest.OtherES256("new"), c), []string{"job-a"}, start.Add(61*time.Second))
	require.Equal(t, auth.ReasonKID, refusal(t, err))
	_, err = v.Check(context.Background(), rsTok, []string{"job-a"}, start.Add(62*time.Second))
	assert.Equal(t, auth.ReasonKID, refusal(t, err), "a withdrawn key is still trusted")
	assert.Equal(t, 2, v.Health().Keys)
}

// No line the package logs holds a token, whatever it is asked to check.
func TestNoTokenInLogs(t *testing.T) {
	var l logs
	j := authtest.StartJWKS(t, keySet()...)
	start := time.Now().Truncate(time.Second)
	v := newKeySet(t, j, &l)
	var tokens []string
	for _, tc := range keySetCases(t, "https://127.0.0.1:1/jwks") {
		tokens = append(tokens, tc.token)
	}
	for _, tc := range secretCases(t) {
		tokens = append(tokens, tc.token)
	}
	for i := range 5 {
		tokens = append(tokens, authtest.Sign(t, authtest.OtherES256(fmt.Sprint("unknown-", i)), claims("job-a")))
	}
	j.Fail(http.StatusInternalServerError)
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() {
			_, _ = v.Check(context.Background(), tok, []string{"job-a"}, start.Add(time.Duration(i)*time.Minute))
		})
	}
	wg.Wait()
	require.Greater(t, j.Fetches(), 1, "the unknown kids fetched the set: there is something logged")
	require.NotEmpty(t, l.String())
	for _, tok := range tokens {
		assert.Empty(t, leaks(l.String(), tok), "a token reached the log")
	}
}
