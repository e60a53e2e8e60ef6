// Package load runs a load test: for each mode in turn it creates the jobs
// (package producer), holds the waiters (package waiter, in this process or
// in holder processes of package proc), holds them all for a while,
// completes the jobs at the chosen rate, and gathers what every waiter saw
// and what it cost the server and Redis (package probe, or package nchan
// against the peer) into a report.Report.
//
// Run owns every goroutine it starts (the holders, the monitor that scrapes
// the server once a second and writes the progress line, the producer's
// writers) and has stopped and waited for all of them when it returns. Its
// error is for a run that could not be carried out; what waiters went
// through is in the report.
package load
