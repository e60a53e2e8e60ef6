package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
)

// tokenCase is one token checked for ids at a time, and the reason it is
// refused for ("" when it is allowed).
type tokenCase struct {
	name  string
	token string
	ids   []string
	at    time.Duration // after epoch
	want  auth.Reason
}

// header is a JWS header for hand-made tokens.
type header map[string]any

// secretCases are the tokens of an HS256 verifier (secret, issuer).
func secretCases(t testing.TB) []tokenCase {
	hs := authtest.HS256(secret)
	other := authtest.HS256(authtest.Secret(48))
	valid := authtest.Sign(t, hs, claims("job-a"))
	parts := strings.Split(valid, ".")
	forB := strings.Split(authtest.Sign(t, hs, claims("job-b")), ".")
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(authtest.RS256("").Public().Key))})
	at := func(d time.Duration) time.Duration { return d }
	return []tokenCase{
		{"valid", valid, []string{"job-a"}, 0, ""},
		{"valid, checked for no job", valid, nil, 0, ""},
		{"missing", "", []string{"job-a"}, 0, auth.ReasonMissing},
		{"one segment", "abc", []string{"job-a"}, 0, auth.ReasonMalformed},
		{"two segments", parts[0] + "." + parts[1], []string{"job-a"}, 0, auth.ReasonMalformed},
		{"four segments", valid + ".x", []string{"job-a"}, 0, auth.ReasonMalformed},
		{"header not base64url", "eyJ%." + parts[1] + "." + parts[2], []string{"job-a"}, 0, auth.ReasonMalformed},
		{"header not JSON", authtest.Unsigned([]byte("not json"), claims("job-a").Payload(), []byte("sig")), []string{"job-a"}, 0, auth.ReasonMalformed},
		{"padded segments", parts[0] + "==." + parts[1] + "." + parts[2], []string{"job-a"}, 0, auth.ReasonMalformed},
		{"too long", strings.Repeat("a", auth.MaxTokenLen+1), []string{"job-a"}, 0, auth.ReasonMalformed},
		{"signature of another payload", parts[0] + "." + forB[1] + "." + parts[2], []string{"job-b"}, 0, auth.ReasonSignature},
		{"signature cut short", parts[0] + "." + parts[1] + "." + parts[2][:20], []string{"job-a"}, 0, auth.ReasonSignature},
		{"wrong secret", authtest.Sign(t, other, claims("job-a")), []string{"job-a"}, 0, auth.ReasonSignature},
		{"expired", valid, []string{"job-a"}, at(5*time.Minute + 30*time.Second), auth.ReasonExpired},
		{"expired within the leeway", valid, []string{"job-a"}, at(5*time.Minute + 29*time.Second), ""},
		{"long expired", valid, []string{"job-a"}, at(time.Hour), auth.ReasonExpired},
		{"not yet valid", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.NotBefore = epoch.Add(31 * time.Second) })), []string{"job-a"}, 0, auth.ReasonNotYetValid},
		{"not yet valid within the leeway", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.NotBefore = epoch.Add(30 * time.Second) })), []string{"job-a"}, 0, ""},
		{"no exp", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Expiry = time.Time{} })), []string{"job-a"}, 0, auth.ReasonClaims},
		{"exp not a number", authtest.SignPayload(t, hs, map[string]any{"aud": "jobwait", "iss": issuer, "exp": "tomorrow", "jobs": []string{"job-a"}}, nil), []string{"job-a"}, 0, auth.ReasonMalformed},
		{"wrong audience", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Audience = []string{"billing"} })), []string{"job-a"}, 0, auth.ReasonAudience},
		{"no audience", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Audience = nil })), []string{"job-a"}, 0, auth.ReasonClaims},
		{"audience among others", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Audience = []string{"billing", "jobwait"} })), []string{"job-a"}, 0, ""},
		{"audience as a string", authtest.SignPayload(t, hs, map[string]any{"aud": "jobwait", "iss": issuer, "exp": epoch.Add(time.Minute).Unix(), "jobs": []string{"job-a"}}, nil), []string{"job-a"}, 0, ""},
		{"wrong issuer", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Issuer = "evil" })), []string{"job-a"}, 0, auth.ReasonIssuer},
		{"no issuer", authtest.Sign(t, hs, with(claims("job-a"), func(c *authtest.Claims) { c.Issuer = "" })), []string{"job-a"}, 0, auth.ReasonClaims},
		{"alg none", authtest.Unsigned(header{"alg": "none", "typ": "JWT"}, claims("job-a").Payload(), nil), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"alg None", authtest.Unsigned(header{"alg": "None", "typ": "JWT"}, claims("job-a").Payload(), nil), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"alg none with the real signature", authtest.Unsigned(header{"alg": "none"}, claims("job-a").Payload(), nil) + parts[2], []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"no alg", authtest.Unsigned(header{"typ": "JWT"}, claims("job-a").Payload(), []byte("x")), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"alg not a string", authtest.Unsigned(header{"alg": 256}, claims("job-a").Payload(), []byte("x")), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"HS384 with the secret", authtest.Sign(t, authtest.Key{Alg: jose.HS384, Private: secret}, claims("job-a")), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"HS512 with the secret", authtest.Sign(t, authtest.Key{Alg: jose.HS512, Private: secret}, claims("job-a")), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"RS256 where the key is a secret", authtest.Sign(t, authtest.RS256(""), claims("job-a")), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"ES256 with its key embedded", authtest.SignPayload(t, authtest.OtherES256(""), claims("job-a").Payload(), header{"jwk": authtest.OtherES256("").Public()}), []string{"job-a"}, 0, auth.ReasonAlgorithm},
		{"HS256 keyed with an RSA public key", authtest.Sign(t, authtest.HS256(rsaPEM), claims("job-a")), []string{"job-a"}, 0, auth.ReasonSignature},
		{"crit header", authtest.SignPayload(t, hs, claims("job-a").Payload(), header{"crit": []string{"exp"}}), []string{"job-a"}, 0, auth.ReasonMalformed},
		{"a token for job A used for job B", valid, []string{"job-b"}, 0, auth.ReasonJobs},
		{"many ids, one not allowed", authtest.Sign(t, hs, claims("job-a", "job-b")), []string{"job-a", "job-c", "job-b"}, 0, auth.ReasonJobs},
		{"many ids, all allowed", authtest.Sign(t, hs, claims("job-a", "job-b", "job-c")), []string{"job-c", "job-a"}, 0, ""},
		{"no jobs", authtest.Sign(t, hs, claims()), []string{"job-a"}, 0, auth.ReasonJobs},
		{"empty jobs", authtest.Sign(t, hs, with(claims(), func(c *authtest.Claims) { c.Jobs = []string{} })), []string{"job-a"}, 0, auth.ReasonJobs},
		{"jobs not an array", authtest.SignPayload(t, hs, map[string]any{"aud": "jobwait", "iss": issuer, "exp": epoch.Add(time.Minute).Unix(), "jobs": "job-a"}, nil), []string{"job-a"}, 0, auth.ReasonMalformed},
		{"jobs of numbers", authtest.SignPayload(t, hs, map[string]any{"aud": "jobwait", "iss": issuer, "exp": epoch.Add(time.Minute).Unix(), "jobs": []int{1}}, nil), []string{"1"}, 0, auth.ReasonMalformed},
		{"jobs with a pattern", authtest.Sign(t, hs, claims("job-a", "job:*")), []string{"job-a"}, 0, auth.ReasonClaims},
		{"jobs with an empty id", authtest.Sign(t, hs, claims("job-a", "")), []string{"job-a"}, 0, auth.ReasonClaims},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCheckSecret(t *testing.T) {
	v := newSecret(t, auth.Required)
	for _, tc := range secretCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g, err := v.Check(context.Background(), tc.token, tc.ids, epoch.Add(tc.at))
			assert.Equal(t, tc.want, refusal(t, err), "Check(%s) = %v; want %q", tc.name, err, tc.want)
			if err != nil {
				assert.Empty(t, leaks(err.Error(), tc.token), "the error holds the token")
				return
			}
			assert.True(t, g.Expires.After(epoch), "Grant.Expires %v is the token's exp", g.Expires)
		})
	}
}

// The grant is the token's exp, and ends a wait that would last longer.
func TestGrantExpires(t *testing.T) {
	v := newSecret(t, auth.Required)
	tok := authtest.Sign(t, authtest.HS256(secret), claims("job-a"))
	g, err := v.Check(context.Background(), tok, []string{"job-a"}, epoch)
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(5*time.Minute), g.Expires)
	assert.Equal(t, epoch.Add(5*time.Minute), g.Deadline(epoch.Add(time.Hour)), "a deadline past exp ends at exp")
	assert.Equal(t, epoch.Add(30*time.Second), g.Deadline(epoch.Add(30*time.Second)), "an earlier deadline stays")
	assert.Equal(t, epoch, auth.Grant{}.Deadline(epoch), "no token: the wait's own deadline")
}

func TestModes(t *testing.T) {
	hs := authtest.HS256(secret)
	valid := authtest.Sign(t, hs, claims("job-a"))
	forged := authtest.Sign(t, authtest.HS256(authtest.Secret(48)), claims("job-a"))
	tests := []struct {
		mode          auth.Mode
		authorization string
		query         []string
		want          auth.Reason
		expires       bool
	}{
		{auth.Off, "", nil, "", false},
		{auth.Off, "Bearer " + forged, nil, "", false},
		{auth.Off, "Basic Zm9vOmJhcg==", []string{"a", "b"}, "", false},
		{auth.Optional, "", nil, "", false},
		{auth.Optional, "Bearer " + valid, nil, "", true},
		{auth.Optional, "", []string{valid}, "", true},
		{auth.Optional, "Bearer " + forged, nil, auth.ReasonSignature, false},
		{auth.Optional, "", []string{forged}, auth.ReasonSignature, false},
		{auth.Optional, "Basic Zm9vOmJhcg==", nil, auth.ReasonMalformed, false},
		{auth.Optional, "", []string{""}, auth.ReasonMalformed, false},
		{auth.Required, "", nil, auth.ReasonMissing, false},
		{auth.Required, "Bearer " + valid, nil, "", true},
		{auth.Required, "Bearer " + valid, []string{forged}, "", true},
		{auth.Required, "Bearer " + forged, []string{valid}, auth.ReasonSignature, false},
	}
	for _, tt := range tests {
		var v *auth.Verifier
		if tt.mode != auth.Off {
			v = newSecret(t, tt.mode)
		} else {
			v = must(auth.New(context.Background(), auth.Config{}))
		}
		g, err := v.Authorize(context.Background(), tt.authorization, tt.query, []string{"job-a"}, epoch)
		assert.Equal(t, tt.want, refusal(t, err), "%s: Authorize(%.20q, %d query values) = %v; want %q", tt.mode, tt.authorization, len(tt.query), err, tt.want)
		assert.Equal(t, tt.expires, !g.Expires.IsZero(), "%s: Authorize(%.20q) grant %v", tt.mode, tt.authorization, g)
	}
	var none *auth.Verifier
	g, err := none.Check(context.Background(), "garbage", []string{"job-a"}, epoch)
	assert.NoError(t, err, "a nil verifier is Off")
	assert.Zero(t, g)
}

func TestNewRefusesSettings(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
		want string // substring of the error
	}{
		{"required without a key", auth.Config{Mode: auth.Required}, "JOBWAIT_AUTH_SECRET"},
		{"optional without a key", auth.Config{Mode: auth.Optional}, "JOBWAIT_AUTH_JWKS_URL"},
		{"both keys", auth.Config{Mode: auth.Required, Secret: secret, JWKSURL: "https://127.0.0.1:1/jwks"}, "both"},
		{"short secret", auth.Config{Mode: auth.Required, Secret: []byte("0123456789abcdef0123456789abcde")}, "31 bytes: want at least 32"},
		{"a key with the mode off", auth.Config{Secret: secret}, "off"},
		{"a key set with the mode off", auth.Config{Mode: auth.Off, JWKSURL: "https://127.0.0.1:1/jwks"}, "off"},
		{"unknown mode", auth.Config{Mode: "sometimes", Secret: secret}, "sometimes"},
		{"plain http to another host", auth.Config{Mode: auth.Required, JWKSURL: "http://events.example/jwks"}, "https"},
		{"relative URL", auth.Config{Mode: auth.Required, JWKSURL: "/jwks.json"}, "absolute"},
		{"ftp", auth.Config{Mode: auth.Required, JWKSURL: "ftp://127.0.0.1/jwks"}, "https"},
		{"URL that does not parse", auth.Config{Mode: auth.Required, JWKSURL: "https://[::1/jwks"}, "does not parse"},
		{"negative leeway", auth.Config{Mode: auth.Required, Secret: secret, Leeway: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := auth.New(context.Background(), tt.cfg)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.Contains(t, err.Error(), tt.want, "New(%s) = %v; want it to say %q", tt.name, err, tt.want)
			if len(tt.cfg.Secret) > 0 {
				assert.NotContains(t, err.Error(), string(tt.cfg.Secret), "the error repeats the secret")
			}
		})
	}
	_, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, JWKSURL: "http://jobwait:hunter22@events.example/jwks"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter22", "a password in the URL is not repeated")
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want auth.Mode
		err  bool
	}{
		{"", auth.Off, false},
		{"off", auth.Off, false},
		{"optional", auth.Optional, false},
		{" Required ", auth.Required, false},
		{"on", "", true},
		{"true", "", true},
	}
	for _, tt := range tests {
		m, err := auth.ParseMode(tt.in)
		assert.Equal(t, tt.want, m, "ParseMode(%q)", tt.in)
		assert.Equal(t, tt.err, err != nil, "ParseMode(%q) error = %v", tt.in, err)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, r := range auth.Reasons {
		e := &auth.Error{Reason: r}
		if r == auth.ReasonJobs {
			assert.Equal(t, [3]any{403, "AUTH_002", auth.MessageForbidden}, [3]any{e.Status(), e.Code(), e.Message()}, "%s", r)
			continue
		}
		assert.Equal(t, [3]any{401, "AUTH_001", auth.MessageUnauthorized}, [3]any{e.Status(), e.Code(), e.Message()}, "%s", r)
	}
}
