// Package storetest plays the AI service in tests: a Producer writes jobs
// through store's own writers, so that whatever jobwait reads is what a
// real producer writes, with ids unique within a test process. Nothing of
// jobwait's own imports it.
package storetest
