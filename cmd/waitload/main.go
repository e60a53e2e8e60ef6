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
// Redis (nchan.go). waitload compare REPORT.json... prints the reports of
// one sitting side by side with the ratios jobwait ÷ Nchan (peerbench.sh).
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
)

func main() {
	if isChild() {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "waitload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := Run(ctx, cfg)
	if rep != nil && len(rep.Modes) > 0 {
		if err := rep.writeTable(stdout); err != nil {
			fmt.Fprintln(stderr, "waitload:", err)
		}
		if cfg.JSONPath != "" {
			if err := rep.writeJSON(cfg.JSONPath); err != nil {
				fmt.Fprintln(stderr, "waitload: write JSON:", err)
				runErr = errors.Join(runErr, err)
			}
		}
		if cfg.HTMLPath != "" {
			if err := rep.writeHTML(cfg.HTMLPath); err != nil {
				fmt.Fprintln(stderr, "waitload: write HTML:", err)
				runErr = errors.Join(runErr, err)
			}
		}
		if cfg.Timeline != "" {
			if err := rep.writeTimeline(cfg.Timeline); err != nil {
				fmt.Fprintln(stderr, "waitload: write timeline:", err)
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
