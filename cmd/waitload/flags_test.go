package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/load"
	"jobwait/cmd/waitload/waiter"
)

func TestParseFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-mode", "sse", "-waiters", "10", "-jobs", "2", "-quiet", "-cpu-pids", "7,8"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []waiter.Mode{waiter.ModeSSE}, cfg.Modes)
	assert.Equal(t, 10, cfg.Waiters)
	assert.Nil(t, cfg.Progress)
	assert.Equal(t, []int{7, 8}, cfg.CPUPids)
	assert.Nil(t, cfg.TokenSecret, "no wait tokens unless asked")

	cfg, _, err = parseFlags([]string{"-token-secret", "a-test-secret-of-at-least-32-bytes-for-hs256"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []byte("a-test-secret-of-at-least-32-bytes-for-hs256"), cfg.TokenSecret)

	cfg, _, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, waiter.AllModes, cfg.Modes)
	assert.NotNil(t, cfg.Progress)
	assert.Equal(t, load.DefaultSources, cfg.Sources, "a loopback target: spread over source addresses")

	cfg, _, err = parseFlags([]string{"-target", "https://jobwait.example.com", "-redis", "rediss://redis.example.com:6380/0"}, io.Discard)
	require.NoError(t, err, "any target, any Redis")
	assert.Zero(t, cfg.Sources, "another host: the kernel chooses the source address")

	for _, args := range [][]string{
		{"-mode", "websocket"},
		{"-target", "10.0.0.5:8080"},
		{"-target", "http://10.0.0.5:8080", "-sources", "4"},
		{"-ca-cert", "ca.pem"},
		{"-redis", "http://203.0.113.7:6379/0"},
		{"-waiters", "0"},
		{"-waiters", "10", "-jobs", "11"},
		{"-budget", "10ms"},
		{"-procs", "0"},
		{"-sources", "300"},
		{"-cpu-pids", "7,x"},
		{"-token-secret", "too-short"},
		{"-token-secret", "a-test-secret-of-at-least-32-bytes-for-hs256", "-server", "nchan", "-mode", "sse"},
		{"extra"},
	} {
		_, _, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "parseFlags(%q)", args)
	}
}

func TestServerFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-mode", "poll"}, true},
		{[]string{"-server", "jobwait", "-mode", "all"}, true},
		{[]string{"-server", "nchan", "-mode", "sse"}, true},
		{[]string{"-server", "nchan", "-mode", "longpoll"}, true},
		{[]string{"-server", "nchan", "-mode", "poll"}, false},
		{[]string{"-server", "nchan", "-mode", "all"}, false},
		{[]string{"-server", "pushpin", "-mode", "sse"}, false},
	} {
		_, _, err := parseFlags(tc.args, &bytes.Buffer{})
		assert.Equal(t, tc.ok, err == nil, "parseFlags(%q) = %v", tc.args, err)
	}
}

func TestParsePids(t *testing.T) {
	pids, err := parsePids("12, 34,56")
	require.NoError(t, err)
	assert.Equal(t, []int{12, 34, 56}, pids)
	for _, bad := range []string{"", "12,", "x", "0", "-3"} {
		_, err := parsePids(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestCompareUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, realMain([]string{"compare"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "usage: waitload compare")
	stderr.Reset()
	assert.Equal(t, 1, realMain([]string{"compare", "/nonexistent.json"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "waitload compare:")
}

// TestCommandLineErrorsSaidOnce: a flag waitload does not know is said
// once (with the usage, by the flag package), -h exits 0, and the same
// holds for waitload fanout.
func TestCommandLineErrorsSaidOnce(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"fanout", "-bogus"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, realMain(args, &stdout, &stderr), "%v", args)
		assert.Equal(t, 1, strings.Count(stderr.String(), "-bogus"), "%v: %s", args, stderr.String())
	}
	for _, args := range [][]string{{"-h"}, {"fanout", "-h"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 0, realMain(args, &stdout, &stderr), "%v", args)
		assert.Contains(t, stdout.String()+stderr.String(), "-rate", "%v lists the flags", args)
	}
}

func TestJobsFromElsewhere(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	ids := file("ids", "# three jobs\njob-1\n\n  job_2  \nJOB3\n")
	cfg, _, err := parseFlags([]string{"-ids-file", ids, "-waiters", "6"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"job-1", "job_2", "JOB3"}, cfg.IDs)
	assert.Equal(t, 3, cfg.Jobs)
	assert.Empty(t, cfg.RedisURL, "no Redis unless named")

	cfg, _, err = parseFlags([]string{"-create-url", "/api/events/{draft}/ai-recommendations", "-redis", "redis://r:6379/0"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "redis://r:6379/0", cfg.RedisURL, "named: read, not written")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-ids-file", file("bad", "job-1\njob:2\n")}, `bad:2: "job:2" is not a job id`},
		{[]string{"-ids-file", file("empty", "# nothing\n")}, "no job id in it"},
		{[]string{"-ids-file", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"-ids-file", ids, "-waiters", "2"}, "3 ids for 2 waiters"},
		{[]string{"-ids-file", ids, "-jobs", "3"}, "-jobs: does not apply"},
		{[]string{"-ids-file", ids, "-rate", "10"}, "-rate: does not apply"},
		{[]string{"-create-url", "/x/{draft}", "-timeline", "t"}, "-timeline: does not apply"},
		{[]string{"-create-url", "ftp://h/{draft}"}, "want an http(s) URL, or a path below -target"},
		{[]string{"-create-url", "/x/{draft}", "-ids-file", ids}, "want one of them"},
		{[]string{"-create-url", "/x/{draft}", "-server", "nchan", "-mode", "sse"}, "-server nchan: the jobs are published by waitload"},
	} {
		_, _, err := parseFlags(tc.args, io.Discard)
		assert.ErrorContains(t, err, tc.want, "parseFlags(%q)", tc.args)
	}
}

func TestThresholdFlag(t *testing.T) {
	_, out, err := parseFlags([]string{"-mode", "sse", "-threshold", "sse.p99<250ms", "-threshold", "errors < 1%"}, io.Discard)
	require.NoError(t, err)
	require.Len(t, out.thresholds, 2)
	assert.Equal(t, "errors<1%", out.thresholds[1].String())

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "sse", "-threshold", "poll.p99<1s"}, "-threshold poll.p99<1s: -mode sse does not run poll"},
		{[]string{"-threshold", "p99<1s", "-threshold", "p99 < 1000ms"}, `-threshold "p99 < 1000ms": the same rule given twice`},
		{[]string{"-threshold", "p99<1"}, "p99 is a latency: want a duration with its unit"},
	} {
		_, _, err := parseFlags(tc.args, io.Discard)
		assert.ErrorContains(t, err, tc.want, "parseFlags(%q)", tc.args)
	}
}
