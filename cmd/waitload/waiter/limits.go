package waiter

import (
	"fmt"
	"syscall"
)

// fdReserve is the open files a process needs besides its waiters'
// connections: stdio, the Redis pool, the metrics client, the executable.
const fdReserve = 64

// CheckNoFile lifts the soft RLIMIT_NOFILE to the hard limit and says
// whether one process can then hold n waiters, each with its own
// connection. Go already raises it at start-up on Linux; doing it here
// makes the figure known and the check explicit.
func CheckNoFile(n int) error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", r.Max, err)
		}
	}
	if need, limit := uint64(n)+fdReserve, uint64(r.Cur); need > limit {
		return fmt.Errorf("%d waiters in one process need %d open files; the limit is %d: "+
			"raise -procs so that each process holds at most %d", n, need, limit, limit-fdReserve)
	}
	return nil
}
