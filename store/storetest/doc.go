// Package storetest plays the AI service in tests: a Producer writes jobs
// into Redis through store's own writers (so that whatever jobwait reads is
// what a real producer writes), with ids unique within a test process;
// ReadOne reads one job as jobwait does.
//
// Nothing here is imported by jobwait's own packages.
package storetest
