package servertest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Exit is what a run of jobwait wrote before it exited, and its status.
type Exit struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the jobwait binary at bin (Binary, BinaryWith) with args to its
// exit, under the test's environment and env (KEY=VALUE). A jobwait that
// starts serving instead of exiting fails the test within 30 s.
func Run(tb testing.TB, bin string, args []string, env ...string) Exit {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		tb.Fatalf("jobwait %q did not exit within 30 s\n%s", args, stderr.String())
	case err != nil && !errors.As(err, &exit):
		tb.Fatalf("jobwait %q: %v", args, err)
	}
	return Exit{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}
