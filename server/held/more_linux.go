package held

import "golang.org/x/sys/unix"

// msgMore holds a write's bytes in the socket until the next write or the
// close (see Conn.sendOnce).
const msgMore = unix.MSG_MORE
