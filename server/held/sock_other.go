//go:build !unix

package held

import "net"

// pushable cannot write without blocking here: held waits are woken instead.
func (h *Conn) pushable() {}

// peek cannot peek here: a vanished client is noticed when a write fails.
func peek(net.Conn, bool) peekState { return peekData }
