//go:build !unix

package held

import "net"

// pushable cannot write without blocking here: held waits are woken instead.
func (h *Conn) pushable() {}

// peek cannot peek here: a connection is taken to hold data, so a vanished
// client is noticed when a write fails, and a connection is handed on at
// once or closed gracefully.
func peek(net.Conn, bool) peekState { return peekData }
