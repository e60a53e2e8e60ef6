package admission

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// The refusals of Waiters.Admit.
var (
	ErrFull     = errors.New("admission: every waiter slot is held")
	ErrAddrFull = errors.New("admission: the client's address holds its share of waiter slots")
)

// Waiters caps the waiters held in all and per client address (ClientAddr's,
// counted under Key: rotating addresses within a /64 buys nothing), so that
// one client cannot take every slot.
type Waiters struct {
	max, perAddr int
	trusted      []netip.Prefix
	n            atomic.Int64 // held in all

	mu   sync.Mutex
	held map[netip.Addr]int // held per address key, when perAddr > 0
}

// NewWaiters returns the waiter caps: max in all, perAddr for one address
// (0: none), the forwarded address believed from the trusted proxies.
func NewWaiters(max, perAddr int, trusted []netip.Prefix) *Waiters {
	return &Waiters{max: max, perAddr: perAddr, trusted: trusted, held: make(map[netip.Addr]int)}
}

// Admit counts one more waiter for the client of a request from peer with
// the X-Forwarded-For headers xff, or refuses it: ErrFull past the cap in
// all, ErrAddrFull past its address's share. A waiter admitted is given
// back once, with Release and the key returned.
func (w *Waiters) Admit(peer netip.Addr, xff [][]byte) (key netip.Addr, err error) {
	if w.n.Add(1) > int64(w.max) {
		w.n.Add(-1)
		return netip.Addr{}, ErrFull
	}
	if w.perAddr <= 0 {
		return netip.Addr{}, nil
	}
	key = Key(ClientAddr(peer, w.trusted, xff))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[key] >= w.perAddr {
		w.n.Add(-1)
		return key, ErrAddrFull
	}
	w.held[key]++
	return key, nil
}

// Release gives back a waiter admitted under key.
func (w *Waiters) Release(key netip.Addr) {
	w.n.Add(-1)
	if w.perAddr <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[key]--; w.held[key] <= 0 {
		delete(w.held, key)
	}
}

// Held is the number of waiters held in all.
func (w *Waiters) Held() int64 { return w.n.Load() }
