package main

import (
	"errors"
	"flag"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/stream"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.Addr)
	assert.Equal(t, "", cfg.RedisURL)
	assert.Equal(t, 30*time.Second, cfg.Server.WaitBudget)
	assert.Equal(t, 2*time.Second, cfg.Server.PollInterval)
	assert.Equal(t, 15*time.Second, cfg.Server.Heartbeat)
	assert.Equal(t, 100000, cfg.Server.MaxWaiters)
	assert.Equal(t, stream.Auto, cfg.Notify)
	assert.Equal(t, stream.SubscribeKeys, cfg.Subscribe)
	assert.True(t, cfg.Demo, "demo is on with the embedded store")
	assert.Equal(t, 5*time.Second, cfg.DemoDelay)
	assert.InDelta(t, 0.1, cfg.DemoFailRate, 1e-9)
	assert.Equal(t, 5*time.Second, cfg.Resync)
	assert.Equal(t, 2*time.Second, cfg.ResultGrace)
	assert.Equal(t, 0, cfg.Server.MaxConns, "derived from the file limit")
	assert.Equal(t, 50, cfg.Server.MaxIDs)
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
		err   string // substring of the error; "" for none
	}{
		{"demo off with REDIS_URL", nil, map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"},
			func(t *testing.T, c Config) { assert.False(t, c.Demo) }, ""},
		{"demo forced on with REDIS_URL", nil, map[string]string{"REDIS_URL": "redis://x:1/0", "JOBWAIT_DEMO": "true"},
			func(t *testing.T, c Config) { assert.True(t, c.Demo) }, ""},
		{"flag beats env", []string{"-wait-budget", "10s"}, map[string]string{"JOBWAIT_WAIT_BUDGET": "20s"},
			func(t *testing.T, c Config) { assert.Equal(t, 10*time.Second, c.Server.WaitBudget) }, ""},
		{"whole seconds", nil, map[string]string{"JOBWAIT_HEARTBEAT": "5"},
			func(t *testing.T, c Config) { assert.Equal(t, 5*time.Second, c.Server.Heartbeat) }, ""},
		{"notify poll", []string{"-notify", "poll"}, nil,
			func(t *testing.T, c Config) { assert.Equal(t, stream.Poll, c.Notify) }, ""},
		{"bad budget", nil, map[string]string{"JOBWAIT_WAIT_BUDGET": "soon"}, nil, "JOBWAIT_WAIT_BUDGET"},
		{"zero budget", nil, map[string]string{"JOBWAIT_WAIT_BUDGET": "0s"}, nil, "JOBWAIT_WAIT_BUDGET"},
		{"bad notify", nil, map[string]string{"JOBWAIT_NOTIFY": "pubsub"}, nil, "JOBWAIT_NOTIFY"},
		{"subscribe pattern", []string{"-subscribe", "pattern"}, nil,
			func(t *testing.T, c Config) { assert.Equal(t, stream.SubscribePattern, c.Subscribe) }, ""},
		{"bad subscribe", nil, map[string]string{"JOBWAIT_SUBSCRIBE": "job:*"}, nil, "JOBWAIT_SUBSCRIBE"},
		{"max conns", []string{"-max-conns", "500"}, nil,
			func(t *testing.T, c Config) { assert.Equal(t, 500, c.Server.MaxConns) }, ""},
		{"bad max conns", nil, map[string]string{"JOBWAIT_MAX_CONNS": "-5"}, nil, "JOBWAIT_MAX_CONNS"},
		{"max conns per ip", nil, map[string]string{"JOBWAIT_MAX_CONNS_PER_IP": "40"},
			func(t *testing.T, c Config) { assert.Equal(t, 40, c.Server.MaxConnsPerIP) }, ""},
		{"max conns per ip derived", nil, nil,
			func(t *testing.T, c Config) { assert.Zero(t, c.Server.MaxConnsPerIP) }, ""},
		{"bad max conns per ip", nil, map[string]string{"JOBWAIT_MAX_CONNS_PER_IP": "many"}, nil, "JOBWAIT_MAX_CONNS_PER_IP"},
		{"first byte timeout", []string{"-first-byte-timeout", "2s"}, nil,
			func(t *testing.T, c Config) { assert.Equal(t, 2*time.Second, c.Server.FirstByteTimeout) }, ""},
		{"first byte timeout by default", nil, nil,
			func(t *testing.T, c Config) {
				assert.Equal(t, server.DefaultFirstByteTimeout, c.Server.FirstByteTimeout)
			}, ""},
		{"bad first byte timeout", nil, map[string]string{"JOBWAIT_FIRST_BYTE_TIMEOUT": "0"}, nil, "JOBWAIT_FIRST_BYTE_TIMEOUT"},
		{"max ids", nil, map[string]string{"JOBWAIT_MAX_IDS": "8"},
			func(t *testing.T, c Config) { assert.Equal(t, 8, c.Server.MaxIDs) }, ""},
		{"bad max ids", nil, map[string]string{"JOBWAIT_MAX_IDS": "0"}, nil, "JOBWAIT_MAX_IDS"},
		{"bad max waiters", nil, map[string]string{"JOBWAIT_MAX_WAITERS": "-1"}, nil, "JOBWAIT_MAX_WAITERS"},
		{"bad fail rate", nil, map[string]string{"JOBWAIT_DEMO_FAIL_RATE": "1.5"}, nil, "JOBWAIT_DEMO_FAIL_RATE"},
		{"bad demo", nil, map[string]string{"JOBWAIT_DEMO": "maybe"}, nil, "JOBWAIT_DEMO"},
		{"bad addr", nil, map[string]string{"JOBWAIT_ADDR": "8080"}, nil, "JOBWAIT_ADDR"},
		{"resync", nil, map[string]string{"JOBWAIT_RESYNC": "1s"},
			func(t *testing.T, c Config) { assert.Equal(t, time.Second, c.Resync) }, ""},
		{"no result grace", nil, map[string]string{"JOBWAIT_RESULT_GRACE": "0"},
			func(t *testing.T, c Config) { assert.Equal(t, time.Duration(0), c.ResultGrace) }, ""},
		{"resync too short", nil, map[string]string{"JOBWAIT_RESYNC": "10ms"}, nil, "JOBWAIT_RESYNC"},
		{"result grace past the Redis timeout", nil, map[string]string{"JOBWAIT_RESULT_GRACE": "5s"}, nil, "JOBWAIT_RESULT_GRACE"},
		{"stray argument", []string{"serve"}, nil, nil, "unexpected arguments"},
		{"a boolean flag alone", []string{"-demo"}, map[string]string{"REDIS_URL": "redis://x:1/0"},
			func(t *testing.T, c Config) { assert.True(t, c.Demo) }, ""},
		{"a boolean flag off", []string{"-demo=false"}, nil,
			func(t *testing.T, c Config) { assert.False(t, c.Demo) }, ""},
		{"a boolean flag beats env", []string{"-demo=off"}, map[string]string{"JOBWAIT_DEMO": "true"},
			func(t *testing.T, c Config) { assert.False(t, c.Demo) }, ""},
		{"a boolean flag's value apart", []string{"-demo", "false"}, nil, nil, "-demo takes its value after =, as in -demo=false"},
		{"a string flag's value apart", []string{"-notify", "poll", "-wait-budget"}, nil, nil, "flag needs an argument: -wait-budget"},
		{"no TLS settings", nil, nil,
			func(t *testing.T, c Config) { assert.Nil(t, c.RedisTLS) }, ""},
		{"missing CA file", nil, map[string]string{"JOBWAIT_REDIS_CA": "/nonexistent/ca.pem"}, nil, "JOBWAIT_REDIS_CA"},
		{"CA file without a certificate", nil, map[string]string{"JOBWAIT_REDIS_CA": "config_test.go"}, nil, "JOBWAIT_REDIS_CA"},
		{"certificate without key", nil, map[string]string{"JOBWAIT_REDIS_CERT": "cert.pem"}, nil, "JOBWAIT_REDIS_KEY"},
		{"key without certificate", []string{"-redis-key", "key.pem"}, nil, nil, "JOBWAIT_REDIS_CERT"},
		{"unreadable key pair", nil, map[string]string{"JOBWAIT_REDIS_CERT": "config_test.go", "JOBWAIT_REDIS_KEY": "config_test.go"}, nil, "JOBWAIT_REDIS_CERT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envOf(tt.env))
			if tt.err != "" {
				require.Error(t, err)
				assert.True(t, strings.Contains(err.Error(), tt.err), "parseConfig error %q; want it to name %s", err, tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

// TestLogDurationsReadable: a duration in the log reads as a duration
// ("1.5s"), nested in a group too, never as a count of nanoseconds.
func TestLogDurationsReadable(t *testing.T) {
	var out strings.Builder
	log, err := newLogger("info", &out)
	require.NoError(t, err)
	log.Info("x", "took", 1500*time.Millisecond, slog.Group("g", "left", 250*time.Millisecond), "n", 3)
	assert.Contains(t, out.String(), `"took":"1.5s"`)
	assert.Contains(t, out.String(), `"g":{"left":"250ms"}`)
	assert.Contains(t, out.String(), `"n":3`)
}

// TestCommandLineErrors: -h is flag.ErrHelp, a command line that cannot
// be read is a usageError (exit status 2), a bad value is not (1), and
// -version reads no setting, so that it answers whatever the environment.
func TestCommandLineErrors(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help"} {
		_, err := parseConfig([]string{h}, envOf(nil))
		assert.ErrorIs(t, err, flag.ErrHelp, "parseConfig(%q)", h)
	}
	for _, args := range [][]string{{"-nope"}, {"-addr"}, {"serve"}, {"-demo", "false"}, {"-healthcheck", "true"}} {
		_, err := parseConfig(args, envOf(nil))
		assert.True(t, errors.As(err, new(usageError)), "parseConfig(%q) = %v; want a usageError", args, err)
	}
	_, err := parseConfig([]string{"-wait-budget", "soon"}, envOf(nil))
	require.Error(t, err)
	assert.False(t, errors.As(err, new(usageError)), "a bad value is not a usage error: %v", err)

	cfg, err := parseConfig([]string{"-version"}, envOf(map[string]string{"JOBWAIT_WAIT_BUDGET": "soon"}))
	require.NoError(t, err)
	assert.True(t, cfg.Version)
}

// TestUsage: -h lists every setting with the kind of value it takes
// (none for a boolean), its environment variable and its default, the
// environment's value when set, a URL's password left out.
func TestUsage(t *testing.T) {
	var out strings.Builder
	writeUsage(&out, envOf(map[string]string{"JOBWAIT_HEARTBEAT": "20s", "REDIS_URL": "redis://jobwait:s3cret@redis:6379/0"}))
	help := out.String()
	assert.NotContains(t, help, "s3cret", "-h repeats REDIS_URL's password")
	assert.Contains(t, help, "(env REDIS_URL) (default \"redis://jobwait:xxxxx@redis:6379/0\")\n")
	for _, s := range settings {
		line := "\n  -" + s.flag
		if s.kind != kindBool {
			line += " " + string(s.kind)
		}
		assert.Contains(t, help, line+"\n", "-h's line of -%s", s.flag)
	}
	assert.Contains(t, help, "\n  -demo\n")
	assert.Contains(t, help, "(env JOBWAIT_HEARTBEAT) (default 20s)\n")
	assert.Contains(t, help, "(env JOBWAIT_NOTIFY) (default \"auto\")\n")
	assert.Contains(t, help, "(env JOBWAIT_MAX_WAITERS) (default 100000)\n")
	assert.Contains(t, help, "\n  -healthcheck\n    \tGET /healthz on the listen address and exit 0 if it answers 200\n")
}

// TestSettingKinds: each setting's default is a value of its kind, so
// that -h does not call a number a duration.
func TestSettingKinds(t *testing.T) {
	for _, s := range settings {
		if s.def == "" {
			continue
		}
		var err error
		switch s.kind {
		case kindDuration:
			_, err = time.ParseDuration(s.def)
		case kindInt:
			_, err = strconv.Atoi(s.def)
		case kindFloat:
			_, err = strconv.ParseFloat(s.def, 64)
		case kindBool:
			_, err = strconv.ParseBool(s.def)
		}
		assert.NoError(t, err, "-%s's default %q is no %s", s.flag, s.def, s.kind)
	}
}
