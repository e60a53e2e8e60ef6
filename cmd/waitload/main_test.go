package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/jobwait/jobwaittest"
	"jobwait/cmd/waitload/proc"
	"jobwait/cmd/waitload/report"
	"jobwait/store/redistest"
)

// TestMain also serves as the holder process of -procs: the test binary is
// what os.Executable names when a run has more than one process.
func TestMain(m *testing.M) {
	if proc.IsChild() {
		os.Exit(proc.Serve(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestCommandLine runs waitload as a user does, against the real jobwait
// and a real Redis: the flags, the holder processes, the table and the
// three files.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobwait and redis-server")
	}
	rs := redistest.Start(t)
	p := jobwaittest.Start(t, "REDIS_URL="+rs.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=5s", "JOBWAIT_LOG_LEVEL=warn")
	p.WaitReady(t, 20*time.Second)

	dir := t.TempDir()
	jsonPath, htmlPath, timeline := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.timeline")
	var stdout, stderr bytes.Buffer
	code := realMain([]string{
		"-target", p.URL(), "-redis", rs.URL(), "-mode", "sse",
		"-waiters", "100", "-jobs", "10", "-rate", "500", "-procs", "2",
		"-budget", "5s", "-hold", "200ms", "-sources", "2", "-timeout", "60s",
		"-json", jsonPath, "-html", htmlPath, "-timeline", timeline, "-quiet",
	}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	assert.Contains(t, stdout.String(), "latency p99 ms")
	rep, err := report.ReadJSON(jsonPath)
	require.NoError(t, err)
	require.Len(t, rep.Modes, 1)
	assert.Equal(t, 100, rep.Modes[0].Delivered, "errors %v", rep.Modes[0].ErrorKinds)
	assert.Equal(t, 2, rep.Procs)
	assert.FileExists(t, htmlPath)
	assert.FileExists(t, timeline)
}
