// Command waitload is jobwait's load tester. It writes jobs into Redis
// exactly as the AI service does (through package store), holds waiters
// against a running jobwait, completes the jobs at a chosen rate, and
// reports what every waiter saw and what it cost jobwait and Redis. Where it
// cannot write Redis, it waits on jobs it is given (-ids-file, -create-url).
//
//	waitload -target http://127.0.0.1:8080 -redis redis://127.0.0.1:6379/0 \
//	    -mode all -waiters 10000 -jobs 1000 -rate 200 -json out.json -html out.html \
//	    -threshold 'sse.p99<250ms' -threshold 'errors<1%'
//
// Each mode runs in turn (package load). The exit code says whether the run
// passed its thresholds (exitFailed if not, or if most waits failed). With
// -server nchan the target is the side-by-side bench's peer, nginx with the
// Nchan module (package nchan); waitload compare REPORT.json... prints one
// sitting's reports side by side with the ratios jobwait ÷ Nchan
// (peerbench.sh). See README.md.
//
// This package is the command line: flags into a load.Config, the run, its
// verdict (package gate) and the report (package report) written where the
// flags say.
package main
