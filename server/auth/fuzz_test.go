package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
)

// FuzzCheck feeds the token parser, the Authorization header and the
// access_token value with the table's tokens, valid and not, and their
// mutations. Whatever comes in: no panic; every refusal is an *Error that
// holds no part of the token; nothing is allowed that was not allowed as
// minted (a token cannot be altered and stay valid); Extract takes the
// token from where the request put it; Redact leaves no token in a URI.
func FuzzCheck(f *testing.F) {
	j := authtest.StartJWKS(f, keySet()...)
	verifiers := []*auth.Verifier{newSecret(f, auth.Required), newKeySet(f, j, nil)}
	cases := append(secretCases(f), keySetCases(f, "https://127.0.0.1:1/jwks")...)
	allowed := map[string]bool{}
	for _, tc := range cases {
		for _, v := range verifiers {
			if _, err := v.Check(context.Background(), tc.token, []string{"job-a"}, epoch); err == nil {
				allowed[tc.token] = true
			}
		}
		if len(tc.token) <= 2048 { // a long seed only slows the minimizer
			f.Add(tc.token, "Bearer "+tc.token, tc.token)
		}
	}
	f.Add("", "", "")
	f.Add("a.b.c", "bearer  a.b.c", "a&b")
	f.Add("..", "Basic Zm9v", "%61ccess_token")
	if len(allowed) < 5 {
		f.Fatalf("only %d seed tokens are valid", len(allowed))
	}

	f.Fuzz(func(t *testing.T, token, authorization, query string) {
		got, err := auth.Extract(authorization, []string{query})
		switch {
		case err != nil:
			if !errors.Is(err, auth.ErrUnauthorized) || refusal(t, err) != auth.ReasonMalformed {
				t.Fatalf("Extract(%q, %q) = %v; want a malformed refusal", authorization, query, err)
			}
		case authorization != "" && !strings.HasSuffix(authorization, got):
			t.Fatalf("Extract(%q, %q) = %q: not the header's token", authorization, query, got)
		case authorization == "" && got != query:
			t.Fatalf("Extract(%q, %q) = %q: not the query's token", authorization, query, got)
		}

		for _, v := range verifiers {
			for _, tok := range []string{token, got} {
				_, err := v.Check(context.Background(), tok, []string{"job-a"}, epoch)
				if err == nil {
					if !allowed[tok] {
						t.Fatalf("Check(%q) allowed a token that was never minted", tok)
					}
					continue
				}
				if r := refusal(t, err); r == "" {
					t.Fatalf("Check(%q) = %v: no reason", tok, err)
				}
				if part := leaks(err.Error(), tok); part != "" {
					t.Fatalf("Check's error %q holds %q of the token", err, part)
				}
			}
		}

		value := strings.Map(func(r rune) rune {
			if strings.ContainsRune("&;#", r) {
				return -1
			}
			return r
		}, token)
		if got := auth.Redact("/api/events/jobs/a/stream?wait=30&access_token=" + value); got != "/api/events/jobs/a/stream?wait=30&access_token=REDACTED" {
			t.Fatalf("Redact(...access_token=%q) = %q", value, got)
		}
	})
}
