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
	"jobwait/cmd/waitload/report"
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
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitPassed
	case err != nil:
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

// compareMain is waitload compare REPORT.json...: the reports of one
// sitting side by side (report.Compare). It returns the exit code.
func compareMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: waitload compare REPORT.json...\n\n"+
			"Prints jobwait and Nchan side by side, with the ratios jobwait ÷ Nchan,\n"+
			"from the JSON reports of one sitting (cmd/waitload/peerbench.sh).")
		return exitUsage
	}
	var reps []*report.Report
	for _, path := range args {
		rep, err := report.ReadJSON(path)
		if err != nil {
			fmt.Fprintln(stderr, "waitload compare:", err)
			return exitRun
		}
		reps = append(reps, rep)
	}
	if err := report.Compare(stdout, reps); err != nil {
		fmt.Fprintln(stderr, "waitload compare:", err)
		return exitRun
	}
	return exitPassed
}
