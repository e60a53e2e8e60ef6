//go:build !unix

package server

// pushable cannot write without blocking here: held waits are woken instead.
func (h *heldConn) pushable() {}
