package admission

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClientAddrTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.9", nil, "203.0.113.9"},
		{"203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},          // untrusted peer: header ignored
		{"10.0.0.5", nil, "10.0.0.5"},                                     // trusted peer, no header: the proxy itself
		{"10.0.0.5", []string{"198.51.100.1"}, "198.51.100.1"},            // one proxy
		{"10.0.0.5", []string{"198.51.100.1, 10.0.0.7"}, "198.51.100.1"},  // two proxies
		{"10.0.0.5", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},   // a forged hop to the left is never read
		{"10.0.0.5", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"}, // repeated headers are one list
		{"10.0.0.5", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},          // all trusted: the leftmost
		{"10.0.0.5", []string{"evil, 198.51.100.1"}, "198.51.100.1"},      // garbage left of the client is never read
		{"10.0.0.5", []string{"198.51.100.1, evil"}, "10.0.0.5"},          // garbage from a trusted proxy: stop at it
		{"10.0.0.5", []string{" , 198.51.100.1 ,"}, "198.51.100.1"},       // empty elements are skipped
		{"10.0.0.5", []string{"198.51.100.1:4711"}, "198.51.100.1"},       // with a port
		{"10.0.0.5", []string{"[2001:db8::1]:443"}, "2001:db8::1"},        // IPv6 with a port
		{"10.0.0.5", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},     // IPv4-mapped
		{"::ffff:10.0.0.5", []string{"198.51.100.1"}, "198.51.100.1"},     // IPv4-mapped peer
		{"fd00::1", []string{"2001:db8::1%eth0"}, "2001:db8::1"},          // zone dropped
		{"10.0.0.5", []string{strings.Repeat("10.0.0.9,", 500) + "198.51.100.1"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		xff := make([][]byte, len(tt.xff))
		for i, h := range tt.xff {
			xff[i] = []byte(h)
		}
		got := ClientAddr(netip.MustParseAddr(tt.peer), trusted, xff)
		assert.Equal(t, tt.want, got.String(), "ClientAddr(%s, %q)", tt.peer, tt.xff)
	}
}

func TestLimitKeyGroupsIPv6By64(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"198.51.100.1", "198.51.100.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
	}
	for _, tt := range tests {
		got := Key(netip.MustParseAddr(tt.addr))
		assert.Equal(t, tt.want, got.String(), "Key(%s)", tt.addr)
	}
}
