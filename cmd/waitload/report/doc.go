// Package report is what a run measured and its renderings: a table for
// the terminal, JSON for machines (its field names are a promise: see
// README.md), one self-contained HTML page with a latency curve per mode,
// the -timeline file of every delivery, and the side-by-side comparison of
// the JSON reports of one sitting (waitload compare). It computes the
// latency summaries; it measures nothing and starts no goroutine.
package report
