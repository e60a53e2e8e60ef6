package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
	"jobwait/server/servertest"
)

// secret is the HS256 secret of the tests' Event Service.
var secret = authtest.Secret(64)

// issuer is the iss the tests' verifiers want.
const issuer = "event-service"

// epoch is the tests' "now": whole seconds, as exp and nbf are.
var epoch = time.Unix(1_790_000_000, 0)

// The kids of the tests' key set.
const (
	kidRS = "rs-2026-11"
	kidES = "es-2026-11"
	kidED = "ed-2026-11"
)

// keySet is the three public keys the tests' key set serves.
func keySet() []jose.JSONWebKey {
	return []jose.JSONWebKey{authtest.RS256(kidRS).Public(), authtest.ES256(kidES).Public(), authtest.EdDSA(kidED).Public()}
}

// logs collects what a verifier logs, for the check that no token reaches
// a log.
type logs struct{ servertest.Buffer }

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// quiet is the logger of verifiers whose logs a test does not read.
var quiet = slog.New(slog.DiscardHandler)

// newSecret is a verifier of HS256 tokens with the tests' secret and issuer.
func newSecret(t testing.TB, mode auth.Mode) *auth.Verifier {
	t.Helper()
	v, err := auth.New(context.Background(), auth.Config{Mode: mode, Secret: secret, Issuer: issuer})
	require.NoError(t, err)
	return v
}

// newKeySet is a verifier of the key set j serves, logging to l (nil: the
// default logger).
func newKeySet(t testing.TB, j *authtest.JWKS, l *logs, edit ...func(*auth.Config)) *auth.Verifier {
	t.Helper()
	cfg := auth.Config{Mode: auth.Required, JWKSURL: j.URL(), Issuer: issuer, Logger: quiet}
	if l != nil {
		cfg.Logger = l.logger()
	}
	for _, e := range edit {
		e(&cfg)
	}
	v, err := auth.New(context.Background(), cfg)
	require.NoError(t, err)
	return v
}

// refusal is the reason of a Check's error, "" when it allowed.
func refusal(t testing.TB, err error) auth.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *auth.Error
	require.True(t, errors.As(err, &e), "error %v (%T) is not an *auth.Error", err, err)
	require.NotEqual(t, errors.Is(err, auth.ErrUnauthorized), errors.Is(err, auth.ErrForbidden), "error %v is one of the two refusals", err)
	return e.Reason
}

// leaks reports a part of token (a segment of at least 12 characters) that
// s holds.
func leaks(s, token string) string {
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 12 && strings.Contains(s, part) {
			return part
		}
	}
	return ""
}

// claims is the usual payload for the tests: issuer and audience right,
// five minutes from epoch, for jobs.
func claims(jobs ...string) authtest.Claims {
	c := authtest.For(epoch, 5*time.Minute, jobs...)
	c.Issuer = issuer
	return c
}

// with edits a copy of c.
func with(c authtest.Claims, edit func(*authtest.Claims)) authtest.Claims {
	edit(&c)
	return c
}
