package main

import (
	"fmt"
	"io"
	"strings"

	"jobwait/cmd/waitload/report"
)

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
