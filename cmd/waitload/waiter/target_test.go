package waiter

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTarget(t *testing.T) {
	got, err := ParseTarget("http://localhost:8080/prefix/", "")
	require.NoError(t, err)
	assert.Equal(t, Target{dial: "localhost:8080", host: "localhost:8080", base: "/prefix", url: "http://localhost:8080/prefix", loopback: true}, got)

	for _, tt := range []struct {
		in, dial, url string
		loopback, tls bool
	}{
		{"http://127.0.0.9", "127.0.0.9:80", "http://127.0.0.9", true, false},
		{"http://192.0.2.7:8080/", "192.0.2.7:8080", "http://192.0.2.7:8080", false, false},
		{"https://jobwait.example.com/api-gw", "jobwait.example.com:443", "https://jobwait.example.com/api-gw", false, true},
		{"https://LOCALHOST:8443", "LOCALHOST:8443", "https://LOCALHOST:8443", true, true},
		{"http://[::1]:8080", "[::1]:8080", "http://[::1]:8080", false, false}, // 127.0.0.x cannot reach it
		{"http://[2001:db8::1]", "[2001:db8::1]:80", "http://[2001:db8::1]", false, false},
	} {
		got, err := ParseTarget(tt.in, "")
		require.NoError(t, err, "ParseTarget(%q)", tt.in)
		assert.Equal(t, tt.dial, got.dial, "ParseTarget(%q).dial", tt.in)
		assert.Equal(t, tt.url, got.URL(), "ParseTarget(%q).URL()", tt.in)
		assert.Equal(t, tt.loopback, got.Loopback(), "ParseTarget(%q).Loopback()", tt.in)
		assert.Equal(t, tt.tls, got.TLS() != nil, "ParseTarget(%q).TLS()", tt.in)
	}

	for _, bad := range []string{"127.0.0.1:8080", "ftp://127.0.0.1", "http://", "http://:8080", "http://h/?x=1", "http://u:p@h/", "http://h:x"} {
		_, err := ParseTarget(bad, "")
		assert.Error(t, err, "ParseTarget(%q)", bad)
	}
	_, err = ParseTarget("https://h", "/nonexistent.pem")
	assert.ErrorContains(t, err, "-ca-cert")
	_, err = ParseTarget("http://h", "ca.pem")
	assert.ErrorContains(t, err, "not https")
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
