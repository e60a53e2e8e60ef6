// Command waitload is jobwait's load tester. It plays both sides: it writes
// jobs into Redis exactly as the AI service does (through package store),
// holds waiters against a running jobwait, completes the jobs at a chosen
// rate, and reports what every waiter saw and what it cost jobwait and Redis.
//
//	waitload -target http://127.0.0.1:8080 -redis redis://127.0.0.1:6379/0 \
//	    -mode all -waiters 10000 -jobs 1000 -rate 200 -json out.json -html out.html
//
// Each mode runs in turn: the jobs are created (PROCESSING), every waiter
// connects (its own connection, round robin over source addresses
// 127.0.0.2…), all are held for -hold, then the jobs are completed at
// -rate, and the mode ends when every waiter has its answer or has spent its
// -budget. Only loopback targets are accepted. See README.md for sizing.
//
// With -server nchan, the target is the peer of the side-by-side bench
// instead: nginx with the Nchan module as nchan.conf sets it up, on the same
// Redis (package nchan). waitload compare REPORT.json... prints the reports
// of one sitting side by side with the ratios jobwait ÷ Nchan (peerbench.sh).
//
// This package is the command line: flags into a load.Config, the run, and
// the report written where the flags say. The packages below it, each with
// its own doc.go: load (a run's modes and phases), waiter (the clients and
// their connections), proc (holder processes), producer (the jobs' writes),
// nchan (the peer's server side), probe (the server's and Redis's own
// figures) and report (the figures and their renderings).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"jobwait/cmd/waitload/load"
	"jobwait/cmd/waitload/proc"
)

func main() {
	if proc.IsChild() {
		os.Exit(proc.Serve(os.Stdin, os.Stdout))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], stdout, stderr)
	}
	cfg, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "waitload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := load.Run(ctx, cfg)
	if rep != nil && len(rep.Modes) > 0 {
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
		return 1
	}
	return 0
}
