package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
)

func TestParseAuthConfig(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-secret"
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good, short, empty := file("good", secret+"\n"), file("short", "hunter2hunter2\r\n"), file("empty", "")
	big := file("big", strings.Repeat("s", 5000))

	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c auth.Config)
		err   string // substring of the error; "" for none
	}{
		{"off by default", nil, nil, func(t *testing.T, c auth.Config) {
			assert.Equal(t, auth.Off, c.Mode)
			assert.Equal(t, auth.DefaultAudience, c.Audience)
		}, ""},
		{"required with a secret", nil, map[string]string{"JOBWAIT_AUTH": "required", "JOBWAIT_AUTH_SECRET": secret}, func(t *testing.T, c auth.Config) {
			assert.Equal(t, auth.Required, c.Mode)
			assert.Equal(t, auth.Secret(secret), c.Secret)
		}, ""},
		{"optional with a secret file", []string{"-auth", "optional", "-auth-secret-file", good}, nil, func(t *testing.T, c auth.Config) {
			assert.Equal(t, auth.Optional, c.Mode)
			assert.Equal(t, auth.Secret(secret), c.Secret, "the trailing newline is not part of the secret")
		}, ""},
		{"a key set, audience and issuer", nil, map[string]string{"JOBWAIT_AUTH": "required", "JOBWAIT_AUTH_JWKS_URL": "https://events.example/.well-known/jwks.json",
			"JOBWAIT_AUTH_AUDIENCE": "jobwait-prod", "JOBWAIT_AUTH_ISSUER": "https://events.example"}, func(t *testing.T, c auth.Config) {
			assert.Equal(t, "https://events.example/.well-known/jwks.json", c.JWKSURL)
			assert.Equal(t, [2]string{"jobwait-prod", "https://events.example"}, [2]string{c.Audience, c.Issuer})
			assert.Empty(t, c.Secret)
		}, ""},
		{"bad mode", nil, map[string]string{"JOBWAIT_AUTH": "yes"}, nil, "JOBWAIT_AUTH"},
		{"required without a key", nil, map[string]string{"JOBWAIT_AUTH": "required"}, nil, "JOBWAIT_AUTH_SECRET"},
		{"short secret", nil, map[string]string{"JOBWAIT_AUTH": "required", "JOBWAIT_AUTH_SECRET": "hunter2hunter2"}, nil, "JOBWAIT_AUTH_SECRET is 14 bytes"},
		{"short secret file", []string{"-auth", "required", "-auth-secret-file", short}, nil, nil, "JOBWAIT_AUTH_SECRET_FILE"},
		{"empty secret file", []string{"-auth", "required", "-auth-secret-file", empty}, nil, nil, "JOBWAIT_AUTH_SECRET_FILE"},
		{"missing secret file", []string{"-auth", "required", "-auth-secret-file", filepath.Join(dir, "none")}, nil, nil, "JOBWAIT_AUTH_SECRET_FILE"},
		{"secret file too large", []string{"-auth", "required", "-auth-secret-file", big}, nil, nil, "JOBWAIT_AUTH_SECRET_FILE"},
		{"secret and secret file", []string{"-auth", "required", "-auth-secret-file", good}, map[string]string{"JOBWAIT_AUTH_SECRET": secret}, nil, "both set"},
		{"secret and key set", nil, map[string]string{"JOBWAIT_AUTH": "required", "JOBWAIT_AUTH_SECRET": secret, "JOBWAIT_AUTH_JWKS_URL": "https://events.example/jwks"}, nil, "JOBWAIT_AUTH_JWKS_URL"},
		{"key set over plain http", nil, map[string]string{"JOBWAIT_AUTH": "required", "JOBWAIT_AUTH_JWKS_URL": "http://events.example/jwks"}, nil, "JOBWAIT_AUTH_JWKS_URL"},
		{"a key with the mode off", nil, map[string]string{"JOBWAIT_AUTH_SECRET": secret}, nil, "JOBWAIT_AUTH is off"},
		{"no flag carries the secret", []string{"-auth-secret", secret}, nil, nil, "auth-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envOf(tt.env))
			if tt.err == "" {
				require.NoError(t, err)
				tt.check(t, cfg.Auth)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err, "parseConfig(%s) error %q; want it to name %s", tt.name, err, tt.err)
			for _, s := range []string{secret, "hunter2"} {
				assert.NotContains(t, err.Error(), s, "the error repeats the secret")
			}
		})
	}
}
