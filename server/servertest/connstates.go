package servertest

import (
	"net"
	"slices"
	"sync"

	"github.com/valyala/fasthttp"
)

// ConnStates records the connection states a fasthttp.Server reports, in
// order: set the server's ConnState to Hook. Its tests pin what the
// connection cap and the held connections rely on of fasthttp.
type ConnStates struct {
	mu     sync.Mutex
	conns  []net.Conn
	states []fasthttp.ConnState
}

// Hook records one state of c.
func (l *ConnStates) Hook(c net.Conn, st fasthttp.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, c)
	l.states = append(l.states, st)
}

// Get returns the connections and states recorded so far, in order.
func (l *ConnStates) Get() ([]net.Conn, []fasthttp.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.conns), slices.Clone(l.states)
}
