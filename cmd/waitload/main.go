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

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"jobwait/cmd/waitload/fanout"
	"jobwait/cmd/waitload/gate"
	"jobwait/cmd/waitload/load"
	"jobwait/cmd/waitload/proc"
)

func main() {
	if proc.IsChild() {
		os.Exit(proc.Serve(os.Stdin, os.Stdout))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// The exit codes: a CI job can tell a server that failed its checks from a
// run that could not be made.
const (
	exitPassed = 0 // the run was made and passed its checks
	exitRun    = 1 // the run could not be made, or its report not written
	exitUsage  = 2 // the command line is wrong
	exitFailed = 3 // the run was made and failed: a threshold, or most waits failed
)

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "fanout" {
		return fanout.Main(args[1:], stdout, stderr)
	}
	cfg, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPassed
	}
	if errors.As(err, new(saidError)) {
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "waitload:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := load.Run(ctx, cfg)
	if rep != nil && len(rep.Modes) > 0 {
		v := gate.Judge(rep, out.thresholds)
		rep.Verdict = &v
		if err := rep.WriteTable(stdout); err != nil {
			fmt.Fprintln(stderr, "waitload:", err)
		}
		for _, f := range []struct {
			what, path string
			write      func(string) error
		}{
			{"JSON", out.json, rep.WriteJSON},
			{"HTML", out.html, rep.WriteHTML},
			{"timeline", out.timeline, rep.WriteTimeline},
		} {
			if f.path == "" {
				continue
			}
			if err := f.write(f.path); err != nil {
				fmt.Fprintf(stderr, "waitload: write %s: %v\n", f.what, err)
				runErr = errors.Join(runErr, err)
			}
		}
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "waitload:", runErr)
		return exitRun
	}
	if !rep.Verdict.Passed {
		fmt.Fprintf(stderr, "waitload: FAILED: %s\n", strings.Join(rep.Verdict.Failures, "; "))
		return exitFailed
	}
	return exitPassed
}
