package held

import "golang.org/x/sys/unix"

// msgMore holds a write's bytes until the close (see Conn.sendOnce).
const msgMore = unix.MSG_MORE
