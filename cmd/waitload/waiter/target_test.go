package waiter

import (
	"errors"
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
		got, err := LoopbackIP(tt.host)
		if !tt.ok {
			assert.True(t, errors.Is(err, ErrNotLoopback), "LoopbackIP(%q) = %q, %v; want ErrNotLoopback", tt.host, got, err)
			continue
		}
		assert.NoError(t, err, "LoopbackIP(%q)", tt.host)
		assert.Equal(t, tt.want, got, "LoopbackIP(%q) = %q; want %q", tt.host, got, tt.want)
	}
}

func TestParseTarget(t *testing.T) {
	got, err := ParseTarget("http://localhost:8080/prefix/")
	require.NoError(t, err)
	assert.Equal(t, Target{dial: "127.0.0.1:8080", host: "localhost:8080", base: "/prefix", url: "http://127.0.0.1:8080"}, got)

	got, err = ParseTarget("http://127.0.0.9")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.9:80", got.dial)

	for _, bad := range []string{"https://127.0.0.1:8080", "127.0.0.1:8080", "http://192.168.1.2:8080", "http://jobwait.internal:8080", "http://[::1]:8080"} {
		_, err := ParseTarget(bad)
		assert.Error(t, err, "ParseTarget(%q)", bad)
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
