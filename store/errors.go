package store

import "errors"

// Errors a read returns, wrapped with the job id; callers test with errors.Is.
var (
	// ErrNotFound: there is no job record (never written, deleted or expired).
	ErrNotFound = errors.New("job not found")
	// ErrCorrupt: the job record exists but cannot be read as a job.
	ErrCorrupt = errors.New("job record unreadable")
	// ErrNoResult: the job is COMPLETED but its recommendation is missing or unreadable.
	ErrNoResult = errors.New("completed job has no readable result")
	// ErrUnavailable: Redis could not be reached or did not answer in time.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrRefused: Redis answered, but refused a command jobwait sent (an
	// ACL without the permission, a renamed or disabled command). The
	// wrapping error names the command, its key and the permission.
	ErrRefused = errors.New("redis refused jobwait's command")
)
