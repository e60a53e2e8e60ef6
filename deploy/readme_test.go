package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
)

// README's shell examples say, in an HTML comment on the lines above each
// ```sh block, what the block is:
//
//	<!-- expect: REGEXP -->   run it; its output must match REGEXP (one
//	                          comment per thing it must show)
//	<!-- not run: WHY -->     it cannot run against `make run` (make run
//	                          itself, make test)
//
// A block with neither is an error, so that a new example is either run
// or said why not.
const (
	expectDirective = "expect:"
	notRunDirective = "not run:"
)

// example is one ```sh block of README that runs, with what its output
// must match.
type example struct {
	line   int
	text   string
	expect []*regexp.Regexp
}

// readmeExamples returns README's runnable ```sh blocks, in order.
func readmeExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	for _, f := range fences(string(readFile(t, "README.md"))) {
		if f.lang != "sh" {
			continue
		}
		ex := example{line: f.line, text: f.text}
		notRun := false
		for _, c := range f.comments {
			switch {
			case strings.HasPrefix(c, notRunDirective):
				notRun = true
				assert.NotEmpty(t, strings.TrimSpace(strings.TrimPrefix(c, notRunDirective)), "README.md:%d: say why the block is not run", f.line)
			case strings.HasPrefix(c, expectDirective):
				re, err := regexp.Compile(strings.TrimSpace(strings.TrimPrefix(c, expectDirective)))
				require.NoError(t, err, "README.md:%d", f.line)
				ex.expect = append(ex.expect, re)
			}
		}
		require.True(t, notRun != (len(ex.expect) > 0),
			"README.md:%d: a ```sh block needs <!-- expect: REGEXP --> (run against make run) or <!-- not run: why --> above it, not both", f.line)
		if !notRun {
			out = append(out, ex)
		}
	}
	return out
}

// TestReadmeExamples runs README's shell examples as a user pastes them
// after `make run`: every runnable ```sh block, in order, in one bash (a
// block uses what the one before it set), from the repository root,
// against the real binary started as make run starts it (no REDIS_URL: the
// embedded store, demo mode on), with localhost:8080 pointed at it. Each
// block must succeed (bash -e, pipefail) and its output match what its
// comments expect.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	examples := readmeExamples(t)
	require.NotEmpty(t, examples, "README has examples to run")
	p := servertest.Start(t, "REDIS_URL=", "JOBWAIT_DEMO=")
	p.WaitReady(t, 10*time.Second)

	out, runErr := runExamples(t, examples, p.Addr)

	// The output of block i runs from its marker to the next one.
	parts := strings.Split(out, exampleMarker)
	ran := len(parts) - 1
	for i, ex := range examples {
		if i >= ran {
			t.Errorf("README.md:%d: not run: an earlier block failed", ex.line)
			continue
		}
		_, got, _ := strings.Cut(parts[i+1], "\n")
		if i == ran-1 && runErr != nil {
			t.Errorf("README.md:%d: %v; it printed:\n%s", ex.line, runErr, got)
			continue
		}
		for _, re := range ex.expect {
			assert.Regexp(t, re, got, "README.md:%d: its output", ex.line)
		}
	}
	if runErr != nil && ran == 0 {
		t.Errorf("bash: %v\n%s", runErr, out)
	}
}

// TestReadmeExampleWithoutTheDemo: README's first example, which starts a
// job, fails and says why when demo mode is off, instead of going on with
// an error's body for a job id.
func TestReadmeExampleWithoutTheDemo(t *testing.T) {
	t.Parallel()
	examples := readmeExamples(t)
	require.NotEmpty(t, examples)
	require.Contains(t, examples[0].text, "JOB=$(", "README's first example starts a job")
	p := servertest.Start(t, "REDIS_URL=", "JOBWAIT_DEMO=false")
	p.WaitReady(t, 10*time.Second)
	out, err := runExamples(t, examples[:1], p.Addr)
	assert.Error(t, err, "it must fail; it printed:\n%s", out)
	assert.Contains(t, out, "no job started", "and say why")
}

// exampleMarker starts each example's output.
const exampleMarker = "@@readme-example "

// runExamples runs examples in one bash (-e, pipefail), from the
// repository root, with localhost:8080 pointed at addr, and returns what
// it printed, each example's output after a line of exampleMarker and its
// index.
func runExamples(t *testing.T, examples []example, addr string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "sed"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "README's examples need %s: apt-get install -y %s (make test installs it)", tool, tool)
	}
	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	for i, ex := range examples {
		fmt.Fprintf(&script, "echo '%s%d'\n", exampleMarker, i)
		script.WriteString(strings.ReplaceAll(ex.text, "localhost:8080", addr))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	// go run starts a child of its own: stop the whole group on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var (
	helpFlag    = regexp.MustCompile(`(?m)^  -([a-z-]+)(?: \w+)?\n\s+(.*)$`)
	helpEnv     = regexp.MustCompile(`\(env (\w+)\)(?: \(default "[^"]*"\))?$`) // the flag's own, last: a usage may say "(env only)" of another
	helpDefault = regexp.MustCompile(`\(default "([^"]*)"\)$`)
	firstCode   = regexp.MustCompile("^`([^`]*)`")
)

// setting is one row of README's settings table, or one flag of jobwait -h.
type setting struct{ env, def string }

// TestReadmeSettingsAreJobwaitHelp: README's settings table lists exactly
// the flags `jobwait -h` lists, each with its environment variable, and
// its default where the table gives one as a value.
func TestReadmeSettingsAreJobwaitHelp(t *testing.T) {
	help, _ := exec.Command(servertest.Binary(t), "-h").CombinedOutput() // -h exits 1 after printing
	fromHelp := map[string]setting{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(help), -1) {
		var s setting
		if e := helpEnv.FindStringSubmatch(m[2]); e != nil {
			s.env = e[1]
		}
		if d := helpDefault.FindStringSubmatch(m[2]); d != nil {
			s.def = d[1]
		}
		fromHelp[m[1]] = s
	}
	require.Contains(t, fromHelp, "addr", "jobwait -h:\n%s", help)

	readme := string(readFile(t, "README.md"))
	_, table, ok := strings.Cut(readme, "\n## Settings\n")
	require.True(t, ok, "README has a Settings section")
	table, _, _ = strings.Cut(table, "\n## ")
	fromReadme := map[string]setting{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 6 {
			continue
		}
		cells = cells[1:5]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !strings.HasPrefix(cells[1], "`-") {
			continue
		}
		flag := strings.Trim(cells[1], "`-")
		var s setting
		if m := firstCode.FindStringSubmatch(cells[0]); m != nil {
			s.env = m[1]
		}
		if m := firstCode.FindStringSubmatch(cells[2]); m != nil {
			s.def = m[1]
		}
		assert.NotContains(t, fromReadme, flag, "README lists -%s twice", flag)
		fromReadme[flag] = s
	}
	assert.Equal(t, fromHelp, fromReadme, "README's settings table (env, default) against jobwait -h")
}
