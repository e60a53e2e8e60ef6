package main

// The command line as people use it, on the real binary: -h and --help,
// and a command line jobwait cannot read.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"jobwait/server/servertest"
)

// TestHelp: -h, -help and --help print the usage on stdout and exit 0,
// each setting with the kind of value it takes: none for a boolean.
func TestHelp(t *testing.T) {
	t.Parallel()
	bin := servertest.Binary(t)
	for _, arg := range []string{"-h", "-help", "--help"} {
		out := servertest.Run(t, bin, []string{arg})
		assert.Equal(t, 0, out.Code, "jobwait %s: exit status; stderr:\n%s", arg, out.Stderr)
		assert.Empty(t, out.Stderr, "jobwait %s wrote to stderr", arg)
		for _, line := range []string{
			"\n  -demo\n", "\n  -healthcheck\n",
			"\n  -addr string\n", "\n  -wait-budget duration\n", "\n  -max-waiters int\n", "\n  -demo-fail-rate float\n",
		} {
			assert.Contains(t, out.Stdout, line, "jobwait %s", arg)
		}
		assert.Contains(t, out.Stdout, "(env JOBWAIT_ADDR) (default \":8080\")\n", "a string's default is quoted")
		assert.Contains(t, out.Stdout, "(env JOBWAIT_WAIT_BUDGET) (default 30s)\n", "a duration's default is not")
	}
}

// TestBadCommandLine: a command line jobwait cannot read exits 2 with its
// error once on stderr and a pointer to -h, not the whole usage; a bad
// value exits 1 with a message naming the setting.
func TestBadCommandLine(t *testing.T) {
	t.Parallel()
	bin := servertest.Binary(t)
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"--nope=1"}, 2, "flag provided but not defined: -nope"},
		{[]string{"-addr"}, 2, "flag needs an argument: -addr"},
		{[]string{"serve"}, 2, `unexpected arguments: ["serve"]`},
		{[]string{"-demo", "false"}, 2, "-demo takes its value after =, as in -demo=false"},
		{[]string{"-wait-budget", "soon"}, 1, `-wait-budget (JOBWAIT_WAIT_BUDGET) = "soon": want a duration such as 30s`},
		{[]string{"-demo=maybe"}, 1, `-demo (JOBWAIT_DEMO) = "maybe": want true or false`},
	}
	for _, tt := range tests {
		out := servertest.Run(t, bin, tt.args)
		assert.Equal(t, tt.code, out.Code, "jobwait %q: exit status; stderr:\n%s", tt.args, out.Stderr)
		assert.Equal(t, 1, strings.Count(out.Stderr, tt.err), "jobwait %q: stderr says %q once:\n%s", tt.args, tt.err, out.Stderr)
		assert.NotContains(t, out.Stderr, "-max-waiters", "jobwait %q prints the error, not the usage", tt.args)
		assert.Empty(t, out.Stdout, "jobwait %q", tt.args)
		if tt.code == 2 {
			assert.Contains(t, out.Stderr, "jobwait -h lists", "jobwait %q points to -h", tt.args)
		}
	}
}
