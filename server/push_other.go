//go:build !unix

package server

import "net"

// pushable cannot write without blocking here: held waits are woken instead.
func (h *heldConn) pushable() {}

// unread cannot peek here: a connection is always closed gracefully.
func unread(net.Conn) bool { return true }
