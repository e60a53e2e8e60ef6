package admission

// Run a fuzzer for real with
//
//	go test -run XXX -fuzz '^FuzzClientAddr$' -fuzztime 60s ./server/admission
//
// (or make fuzz, which runs each). A crash is kept under testdata/fuzz.

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.5", "203.0.113.9")
	f.Add("10.0.0.5", "203.0.113.9, 10.0.0.7")
	f.Add("10.0.0.5", "evil, 203.0.113.9")
	f.Add("10.0.0.5", "10.0.0.1,10.0.0.2")
	f.Add("10.0.0.5", ",,, ,")
	f.Add("10.0.0.5", "[2001:db8::1]:443, 198.51.100.1:8080")
	f.Add("10.0.0.5", "::ffff:203.0.113.9")
	f.Add("198.51.100.7", "203.0.113.9")
	f.Add("::1", "fe80::1%eth0")
	f.Add("10.0.0.5", strings.Repeat("1.2.3.4,", 2000))
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		ip, err := netip.ParseAddr(remote)
		if err != nil {
			return
		}
		got := ClientAddr(ip, trusted, [][]byte{[]byte(xff)})
		if !trustedAddr(ip, trusted) {
			if got != ip.Unmap() {
				t.Fatalf("ClientAddr(%v, %q) = %v; want the untrusted peer %v", ip, xff, got, ip.Unmap())
			}
			return
		}
		// The client is the peer or an address the header names, never made up.
		if got == ip.Unmap() {
			return
		}
		for _, hop := range strings.Split(xff, ",") {
			if a, ok := parseHop([]byte(strings.TrimSpace(hop))); ok && a == got {
				return
			}
		}
		t.Fatalf("ClientAddr(%v, %q) = %v; want the peer or an address of the header", ip, xff, got)
	})
}
