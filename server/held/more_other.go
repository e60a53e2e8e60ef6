//go:build unix && !linux

package held

// msgMore: no such flag here; a stream's FIN follows in a segment of its own.
const msgMore = 0
