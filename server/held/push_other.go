//go:build !unix

package held

// pushable cannot write without blocking here: held waits are woken instead.
func (h *Conn) pushable() {}
