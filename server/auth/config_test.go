package auth_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"jobwait/server/auth"
	"jobwait/server/servertest"
)

// A Config written out whole, in any way, does not show its secret.
func TestSecretNeverPrinted(t *testing.T) {
	const pass = "correct horse battery staple, 32+"
	cfg := auth.Config{Mode: auth.Required, Secret: auth.Secret(pass)}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, cfg.Secret))
	}
	j, err := json.Marshal(cfg)
	assert.NoError(t, err)
	var buf servertest.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "auth", cfg, "secret", cfg.Secret)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "auth", cfg, "secret", cfg.Secret)
	out = append(out, string(j), buf.String())
	for _, s := range out {
		assert.NotContains(t, s, "horse", "the secret is printed: %s", s)
	}
	assert.Contains(t, strings.Join(out, " "), auth.Redacted)
	assert.Empty(t, auth.Secret(nil).String(), "no secret is not shown as one")
}

func TestValidate(t *testing.T) {
	assert.NoError(t, auth.Config{}.Validate())
	assert.NoError(t, auth.Config{Mode: auth.Required, Secret: secret}.Validate())
	assert.NoError(t, auth.Config{Mode: auth.Optional, JWKSURL: "https://events.example/jwks"}.Validate(), "Validate fetches nothing")
	assert.ErrorContains(t, auth.Config{Mode: auth.Required}.Validate(), "no key")
}
