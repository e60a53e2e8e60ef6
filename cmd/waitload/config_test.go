package main

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoopbackIP(t *testing.T) {
	tests := []struct {
		host string
		want string
		ok   bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.1.2.3", "127.1.2.3", true},
		{"localhost", "127.0.0.1", true},
		{"LOCALHOST", "127.0.0.1", true},
		{"::ffff:127.0.0.1", "127.0.0.1", true},
		{"10.0.0.1", "", false},
		{"128.0.0.1", "", false},
		{"0.0.0.0", "", false},
		{"::1", "", false},
		{"example.com", "", false},
		{"localhost.example.com", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := loopbackIP(tt.host)
		if !tt.ok {
			assert.True(t, errors.Is(err, errNotLoopback), "loopbackIP(%q) = %q, %v; want errNotLoopback", tt.host, got, err)
			continue
		}
		assert.NoError(t, err, "loopbackIP(%q)", tt.host)
		assert.Equal(t, tt.want, got, "loopbackIP(%q) = %q; want %q", tt.host, got, tt.want)
	}
}

func TestParseTarget(t *testing.T) {
	got, err := parseTarget("http://localhost:8080/prefix/")
	require.NoError(t, err)
	assert.Equal(t, target{dial: "127.0.0.1:8080", host: "localhost:8080", base: "/prefix", url: "http://127.0.0.1:8080"}, got)

	got, err = parseTarget("http://127.0.0.9")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.9:80", got.dial)

	for _, bad := range []string{"https://127.0.0.1:8080", "127.0.0.1:8080", "http://192.168.1.2:8080", "http://jobwait.internal:8080", "http://[::1]:8080"} {
		_, err := parseTarget(bad)
		assert.Error(t, err, "parseTarget(%q)", bad)
	}
}

func TestRedisOptions(t *testing.T) {
	o, err := redisOptions("redis://localhost:6379/3")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:6379", o.Addr)
	assert.Equal(t, 3, o.DB)
	_, err = redisOptions("redis://10.1.1.1:6379/0")
	assert.ErrorIs(t, err, errNotLoopback)
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-mode", "sse", "-waiters", "10", "-jobs", "2", "-quiet", "-cpu-pids", "7,8"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []Mode{ModeSSE}, cfg.Modes)
	assert.Equal(t, 10, cfg.Waiters)
	assert.Nil(t, cfg.Progress)
	assert.Equal(t, []int{7, 8}, cfg.CPUPids)

	cfg, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, AllModes, cfg.Modes)
	assert.NotNil(t, cfg.Progress)

	for _, args := range [][]string{
		{"-mode", "websocket"},
		{"-target", "http://10.0.0.5:8080"},
		{"-redis", "redis://203.0.113.7:6379/0"},
		{"-waiters", "0"},
		{"-waiters", "10", "-jobs", "11"},
		{"-budget", "10ms"},
		{"-procs", "0"},
		{"-sources", "300"},
		{"-cpu-pids", "7,x"},
		{"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "parseFlags(%q)", args)
	}
}

func TestErrKind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dial tcp 127.0.0.2:0->127.0.0.1:8080: connect: connection refused", "dial tcp: connection refused"},
		{"read response: read tcp 127.0.0.3:40000->127.0.0.1:8080: i/o timeout", "read response: read tcp: i/o timeout"},
		{"http 503 SVC_001", "http 503 SVC_001"},
	}
	for _, tt := range tests {
		got := errKind(errors.New(tt.in))
		assert.Equal(t, tt.want, got, "errKind(%q) = %q; want %q", tt.in, got, tt.want)
	}
}
