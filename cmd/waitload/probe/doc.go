// Package probe reads what the measured side says of itself: a server's
// figures (jobwait's /metrics and /api/info), Redis's (INFO commandstats and
// cpu, summed over the masters of a cluster) and a process's (/proc: CPU
// time, resident memory). Each reading is one round trip or one file read,
// bounded by its context or its client's timeout; it starts no goroutine.
package probe
