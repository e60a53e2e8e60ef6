package main

// The command line as people use it, on the real binary: -h and --help,
// -version, a command line jobwait cannot read, and what /metrics says of
// the build and of the Go runtime.

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			"\n  -demo\n", "\n  -healthcheck\n", "\n  -version\n",
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

// versionPattern is -version's answer: the version, the revision and the Go
// release that built it, for the platform.
var versionPattern = regexp.MustCompile(`^jobwait (\S+), revision (\S+), (go\S+) ` + runtime.GOOS + "/" + runtime.GOARCH + "\n$")

// askVersion runs bin -version and returns its version, revision and Go
// release.
func askVersion(t *testing.T, bin string) (ver, rev, goVer string) {
	t.Helper()
	out := servertest.Run(t, bin, []string{"-version"})
	require.Equal(t, 0, out.Code, "jobwait -version: exit status; stderr:\n%s", out.Stderr)
	m := versionPattern.FindStringSubmatch(out.Stdout)
	require.NotNil(t, m, "jobwait -version printed %q; want %s", out.Stdout, versionPattern)
	return m[1], m[2], m[3]
}

// buildInfo returns the labels of the one jobwait_build_info series on
// p's /metrics, which must be 1.
func buildInfo(t *testing.T, p *servertest.Process) map[string]string {
	t.Helper()
	m, err := servertest.ReadMetrics(p.URL())
	require.NoError(t, err)
	f := m["jobwait_build_info"]
	require.NotNil(t, f, "no jobwait_build_info on /metrics")
	require.Len(t, f.GetMetric(), 1)
	s := f.GetMetric()[0]
	assert.Equal(t, 1.0, s.GetGauge().GetValue(), "jobwait_build_info")
	labels := map[string]string{}
	for _, l := range s.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// TestVersion: -version names the version, the revision and the Go
// release, and jobwait_build_info on /metrics says the same. A release
// build sets the first two with -ldflags -X; without it they come from
// what go build stamped, "unknown" for a revision it could not read (a
// build outside a git checkout, such as Docker's).
func TestVersion(t *testing.T) {
	t.Parallel()
	t.Run("as built", func(t *testing.T) {
		t.Parallel()
		ver, rev, goVer := askVersion(t, servertest.Binary(t))
		assert.Equal(t, runtime.Version(), goVer)
		p := servertest.Start(t, "REDIS_URL=")
		assert.Equal(t, map[string]string{"version": ver, "revision": rev, "goversion": goVer}, buildInfo(t, p))
	})
	t.Run("stamped", func(t *testing.T) {
		t.Parallel()
		const ver, rev = "v1.4.0-rc.1", "0123456789abcdef0123456789abcdef01234567"
		bin := servertest.BinaryWith(t, "-ldflags", fmt.Sprintf("-X main.version=%s -X main.revision=%s", ver, rev))
		gotVer, gotRev, goVer := askVersion(t, bin)
		assert.Equal(t, ver, gotVer)
		assert.Equal(t, rev, gotRev)
		assert.Equal(t, runtime.Version(), goVer)
		p := servertest.StartBinary(t, bin, "REDIS_URL=")
		assert.Equal(t, map[string]string{"version": ver, "revision": rev, "goversion": runtime.Version()}, buildInfo(t, p))
		assert.Contains(t, p.Log(), fmt.Sprintf(`"version":%q,"revision":%q`, ver, rev), "the start is logged with the build")
	})
}

// TestRuntimeHistograms: /metrics has the Go runtime's histograms of
// scheduling latency and of GC stop-the-world pauses, which explain a
// latency tail the application's own histograms show.
func TestRuntimeHistograms(t *testing.T) {
	t.Parallel()
	p := servertest.Start(t, "REDIS_URL=")
	m, err := servertest.ReadMetrics(p.URL())
	require.NoError(t, err)
	for _, name := range []string{"go_sched_latencies_seconds", "go_sched_pauses_total_gc_seconds"} {
		f := m[name]
		if assert.NotNil(t, f, "%s is not on /metrics", name) {
			assert.Equal(t, dto.MetricType_HISTOGRAM, f.GetType(), name)
			require.Len(t, f.GetMetric(), 1, name)
			assert.NotEmpty(t, f.GetMetric()[0].GetHistogram().GetBucket(), "%s has no buckets", name)
		}
	}
}
