//go:build !unix

package held

import "net"

// peerGone cannot peek here: a vanished client is noticed when a write fails.
func peerGone(net.Conn) bool { return false }

// readable cannot peek here: the connection is handed on at once.
func readable(net.Conn) (ready, closed bool) { return true, false }

// unread cannot peek here: a connection is always closed gracefully.
func unread(net.Conn) bool { return true }
