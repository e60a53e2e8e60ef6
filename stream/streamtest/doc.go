// Package streamtest holds what concurrency tests share, in the hub's
// package and in every package above it: Eventually and EventuallyEqual
// poll a condition with a bound and say what they waited for; Group runs
// functions at once and waits for them, bounded; Run runs a function until
// the test stops it, bounded too. No receive of a test waits unbounded.
//
// Nothing here is imported by jobwait's own packages.
package streamtest
