// Package redistest starts private redis-server processes for tests: one per
// package run (Shared) or one per test (Start) when a test restarts, stops or
// reconfigures its server, and Cluster, Sentinel and TLS deployments. Tests
// always talk to a real Redis. Proc, FreePort and SkipIfShort serve every
// kit that starts a process.
package redistest
