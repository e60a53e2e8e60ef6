package admission

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaiters: at most max waiters in all and perAddr per client address;
// IPv6 clients counted per /64; the clients a trusted proxy forwards for
// counted apart, the proxy's own address not at all; a waiter given back
// makes room once, and an address with none held is forgotten.
func TestWaiters(t *testing.T) {
	proxy := netip.MustParseAddr("10.0.0.5")
	w := NewWaiters(6, 2, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	admit := func(peer string, xff ...string) (netip.Addr, error) {
		h := make([][]byte, len(xff))
		for i, x := range xff {
			h[i] = []byte(x)
		}
		return w.Admit(netip.MustParseAddr(peer), h)
	}
	must := func(peer string, xff ...string) netip.Addr {
		t.Helper()
		key, err := admit(peer, xff...)
		require.NoError(t, err, "Admit(%s, %q)", peer, xff)
		return key
	}

	a := must("198.51.100.1")
	must("198.51.100.1", "203.0.113.9") // an untrusted peer's header is not read
	_, err := admit("198.51.100.1")
	assert.ErrorIs(t, err, ErrAddrFull)
	must("2001:db8::1")
	_, err = admit("2001:db8::ffff:2")
	require.NoError(t, err)
	_, err = admit("2001:db8::3")
	assert.ErrorIs(t, err, ErrAddrFull, "another address of the same /64")
	must(proxy.String(), "203.0.113.9")
	forwarded := must(proxy.String(), "203.0.113.10")
	assert.EqualValues(t, 6, w.Held())
	_, err = admit(proxy.String(), "203.0.113.11")
	assert.ErrorIs(t, err, ErrFull, "past the cap in all, whatever the address")
	assert.EqualValues(t, 6, w.Held(), "a refusal holds nothing")

	w.Release(a)
	w.Release(forwarded)
	must("198.51.100.1")
	_, err = admit("198.51.100.1")
	assert.ErrorIs(t, err, ErrAddrFull, "one place given back")
	assert.EqualValues(t, 5, w.Held())
	assert.Len(t, w.held, 3, "counted: 198.51.100.1, 2001:db8::/64, 203.0.113.9")
}

// TestWaitersWithoutAShare: a zero share counts in all only, and reads no
// address.
func TestWaitersWithoutAShare(t *testing.T) {
	w := NewWaiters(2, 0, nil)
	var keys []netip.Addr
	for range 2 {
		key, err := w.Admit(netip.MustParseAddr("198.51.100.1"), nil)
		require.NoError(t, err)
		keys = append(keys, key)
	}
	_, err := w.Admit(netip.MustParseAddr("198.51.100.2"), nil)
	assert.ErrorIs(t, err, ErrFull)
	for _, k := range keys {
		w.Release(k)
	}
	assert.Zero(t, w.Held())
	assert.Empty(t, w.held)
}
