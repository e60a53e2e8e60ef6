package admission

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// Key is what a client address is counted under: an IPv4 address itself,
// an IPv6 address's /64.
func Key(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// ClientAddr is the address of the client behind a request from peer.
// Only a peer inside trusted is believed about who it forwards for: then
// X-Forwarded-For is read from the right (the hop the trusted proxy added
// last) past every trusted hop, and the first untrusted one is the client.
// Hops to its left were written by the client and are never read. When
// every hop is trusted, the leftmost is the client; a hop that is not an
// address ends the walk at the last one that was.
func ClientAddr(peer netip.Addr, trusted []netip.Prefix, xff [][]byte) netip.Addr {
	addr := peer.Unmap()
	if !trustedAddr(addr, trusted) {
		return addr
	}
	for _, h := range slices.Backward(xff) {
		for len(h) > 0 {
			comma := bytes.LastIndexByte(h, ',')
			hop := bytes.TrimSpace(h[comma+1:])
			h = h[:max(comma, 0)]
			if len(hop) == 0 {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return addr
			}
			if addr = a; !trustedAddr(a, trusted) {
				return a
			}
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For element: an address, possibly with a
// port ("198.51.100.1:8080", "[2001:db8::1]:443") or a zone.
func parseHop(b []byte) (netip.Addr, bool) {
	s := string(b)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return a.WithZone("").Unmap(), err == nil
}

func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a.Unmap()) })
}
