package authtest

import (
	"strings"
	"testing"
	"time"

	"jobwait/server/auth"
)

// Refused is a token a verifier must refuse with AUTH_001, and the reason it must give.
type Refused struct {
	Name   string
	Token  string // "" is no token
	Reason auth.Reason
}

// Refusals are the tokens every way to wait for jobs must refuse, for a
// verifier of k (HS256) that wants iss ("": the issuer case is left out):
// none, a malformed one, a bad signature, another key's, expired, not yet
// valid, for another audience or issuer, and alg none. Each lists jobs.
func Refusals(t testing.TB, k Key, iss string, jobs ...string) []Refused {
	t.Helper()
	now := time.Now()
	claims := func(edit func(*Claims)) Claims {
		c := For(now, 5*time.Minute, jobs...)
		c.Issuer = iss
		if edit != nil {
			edit(&c)
		}
		return c
	}
	valid := Sign(t, k, claims(nil))
	rs := []Refused{
		{"missing", "", auth.ReasonMissing},
		{"malformed", "eyJhbGciOiJIUzI1NiJ9.not-json", auth.ReasonMalformed},
		{"bad signature", valid[:strings.LastIndexByte(valid, '.')+1] + "Zm9yZ2VkLXNpZ25hdHVyZS1vZi0zMi1ieXRlcyEhISE", auth.ReasonSignature},
		{"wrong key", Sign(t, HS256(Secret(32)), claims(nil)), auth.ReasonSignature},
		{"expired", Sign(t, k, claims(func(c *Claims) { c.IssuedAt, c.Expiry = now.Add(-2*time.Minute), now.Add(-time.Minute) })), auth.ReasonExpired},
		{"not yet valid", Sign(t, k, claims(func(c *Claims) { c.NotBefore = now.Add(2 * time.Minute) })), auth.ReasonNotYetValid},
		{"wrong audience", Sign(t, k, claims(func(c *Claims) { c.Audience = []string{"billing"} })), auth.ReasonAudience},
		{"alg none", Unsigned(map[string]any{"alg": "none", "typ": "JWT"}, claims(nil).Payload(), nil), auth.ReasonAlgorithm},
	}
	if iss != "" {
		rs = append(rs, Refused{"wrong issuer", Sign(t, k, claims(func(c *Claims) { c.Issuer = "intruder" })), auth.ReasonIssuer})
	}
	return rs
}
