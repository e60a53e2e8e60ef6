package server

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// clientLimit caps the waiters held for one client address, so that one
// client cannot take every waiter slot (Config.MaxWaitersPerIP). IPv6
// clients are counted per /64, the block one subscriber usually gets, so
// that rotating addresses within it buys nothing. A zero cap counts nothing.
type clientLimit struct {
	max     int
	trusted []netip.Prefix

	mu   sync.Mutex
	held map[netip.Addr]int
}

func newClientLimit(max int, trusted []netip.Prefix) *clientLimit {
	return &clientLimit{max: max, trusted: trusted, held: make(map[netip.Addr]int)}
}

// acquire counts one more waiter for the client of c; false means the
// client holds its share already. release must be called with the returned
// key once the waiter ends.
func (l *clientLimit) acquire(c *fiber.Ctx) (key netip.Addr, ok bool) {
	if l.max <= 0 {
		return netip.Addr{}, true
	}
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	key = limitKey(clientAddr(peer, l.trusted, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] >= l.max {
		return key, false
	}
	l.held[key]++
	return key, true
}

// release gives back a waiter counted by acquire.
func (l *clientLimit) release(key netip.Addr) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key]--; l.held[key] <= 0 {
		delete(l.held, key)
	}
}

// limitKey is what a client address is counted under: an IPv4 address
// itself, an IPv6 address's /64.
func limitKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// clientAddr is the address of the client behind a request from peer.
// Only a peer inside trusted is believed about who it forwards for: then
// X-Forwarded-For is read from the right (the hop the trusted proxy added
// last) past every trusted hop, and the first untrusted one is the client.
// Hops to its left were written by the client and are never read. When
// every hop is trusted, the leftmost is the client; a hop that is not an
// address ends the walk at the last one that was.
func clientAddr(peer netip.Addr, trusted []netip.Prefix, xff [][]byte) netip.Addr {
	addr := peer.Unmap()
	if !trustedAddr(addr, trusted) {
		return addr
	}
	for i := len(xff) - 1; i >= 0; i-- {
		h := xff[i]
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
			addr = a
			if !trustedAddr(a, trusted) {
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
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// trustedAddr reports whether a is inside one of the trusted prefixes.
func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
