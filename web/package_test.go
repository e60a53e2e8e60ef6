package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
	"jobwait/stream/streamtest"
	"jobwait/web/npmtest"
)

// clientPackage is the npm name of web/client.
const clientPackage = "@jobwait/client"

// eventSourceVersion is the npm eventsource that TestClientInNode gives
// the client in Node, the last major that runs on Node 20.
const eventSourceVersion = "eventsource@4.1.1"

// consumer is a scratch project with web/client installed from the
// tarball npm pack makes of it, as a front-end team would install it:
// made once per run, under the suite's directory.
var consumer struct {
	once sync.Once
	dir  string
	err  error
}

// consumerProject returns the scratch project's directory. The tarball is
// installed with --offline: the package has no dependency to fetch.
func consumerProject(t *testing.T) string {
	t.Helper()
	redistest.SkipIfShort(t)
	consumer.once.Do(func() { consumer.dir, consumer.err = makeConsumer() })
	require.NoError(t, consumer.err)
	return consumer.dir
}

func makeConsumer() (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%s", npmtest.NPMHint)
	}
	dir := filepath.Join(suite.dir, "consumer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	run := func(in string, args ...string) (string, error) {
		cmd := exec.Command(npm, args...)
		cmd.Dir = in
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			return "", fmt.Errorf("npm %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return strings.TrimSpace(string(out)), nil
	}
	tgz, err := run("client", "pack", "--silent", "--pack-destination", dir)
	if err != nil {
		return "", err
	}
	err = os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","private":true,"type":"module"}`), 0o644)
	if err != nil {
		return "", err
	}
	if _, err := run(dir, "install", "--offline", "--no-audit", "--no-fund", "./"+tgz); err != nil {
		return "", err
	}
	// The consumers: the Node script and the typed uses.
	for _, f := range []string{"node.mjs", "usage.ts", "misuse.ts"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			return "", err
		}
	}
	return dir, nil
}

// TestPackage: npm pack puts the module, its types, package.json and the
// README in the tarball, nothing else; package.json says what a bundler,
// Node and tsc need to find them.
func TestPackage(t *testing.T) {
	t.Parallel()
	dir := consumerProject(t)
	installed := filepath.Join(dir, "node_modules", clientPackage)
	var files []string
	require.NoError(t, filepath.WalkDir(installed, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(installed, p)
			files = append(files, rel)
		}
		return err
	}))
	assert.ElementsMatch(t, []string{"README.md", "jobwait.d.ts", "jobwait.js", "package.json"}, files)

	var pkg struct {
		Name, Version, Type string
		Exports             map[string]any
		Dependencies        map[string]string
	}
	require.NoError(t, json.Unmarshal(readInstalled(t, "package.json"), &pkg))
	assert.Equal(t, clientPackage, pkg.Name)
	assert.Regexp(t, `^\d+\.\d+\.\d+$`, pkg.Version)
	assert.Equal(t, "module", pkg.Type)
	assert.Equal(t, map[string]any{"types": "./jobwait.d.ts", "default": "./jobwait.js"}, pkg.Exports["."])
	assert.Empty(t, pkg.Dependencies, "no runtime dependency")
	for _, f := range []string{"jobwait.js", "jobwait.d.ts"} {
		src, err := os.ReadFile(filepath.Join("client", f))
		require.NoError(t, err)
		assert.Equal(t, string(src), string(readInstalled(t, f)), "%s installed as it is in web/client", f)
	}
}

// readInstalled reads a file of the package installed in the scratch project.
func readInstalled(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(consumerProject(t), "node_modules", clientPackage, name))
	require.NoError(t, err)
	return b
}

// declaredValues are the names jobwait.d.ts exports as values.
func declaredValues(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^export (?:declare )?(?:function|const|let|class) (\w+)`).FindAllStringSubmatch(string(readInstalled(t, "jobwait.d.ts")), -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// nodeRun is what testdata/node.mjs reports of one wait.
type nodeRun struct {
	Exports    []string          `json:"exports"`
	Required   []string          `json:"required"`
	HasES      bool              `json:"hasEventSource"`
	NoBaseURL  string            `json:"noBaseUrl"`
	Transports []string          `json:"transports"`
	Statuses   []string          `json:"statuses"`
	Final      string            `json:"final"`
	Finals     map[string]string `json:"finals"` // mode many: each job's end
	Body       map[string]any    `json:"body"`
	Error      map[string]any    `json:"error"`
}

// runNode runs testdata/node.mjs in the scratch project with args, calls
// during while it runs, and returns its report.
func runNode(t *testing.T, during func(), args ...string) nodeRun {
	t.Helper()
	dir := consumerProject(t)
	node, err := exec.LookPath("node")
	require.NoError(t, err, npmtest.NPMHint)
	ctx, cancel := context.WithTimeout(context.Background(), pageTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"node.mjs"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH=") // nothing but the project's node_modules
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if during != nil {
		during()
	}
	select {
	case err = <-done:
	case <-time.After(pageTimeout):
		t.Fatal("node did not end")
	}
	require.NoError(t, err, "node node.mjs %s:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	var r nodeRun
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &r), "node's report: %s\n%s", stdout.String(), stderr.String())
	return r
}

// TestClientInNode: the installed package imports in Node 20, which has
// fetch but no EventSource and no DOM, with exactly the exports its types
// declare (also through require()); a wait there falls back to long poll
// and gets a job's result from the real jobwait when it is written; given
// an EventSource from npm, it streams instead.
func TestClientInNode(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")
	es := npmtest.Install(t, eventSourceVersion)
	// The project resolves eventsource from its node_modules, as if installed there.
	link := filepath.Join(consumerProject(t), "node_modules", "eventsource")
	if _, err := os.Lstat(link); err != nil {
		require.NoError(t, os.Symlink(filepath.Join(es, "node_modules", "eventsource"), link))
	}

	for _, tc := range []struct {
		mode, kind, transport string
		statuses              []string // a held long poll tells only the end
	}{
		{"longpoll", "longpoll", "longpoll", []string{}},
		{"eventsource", "sse", "sse", []string{"PROCESSING"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			id, draft := "node-"+tc.mode, "draft-node-"+tc.mode
			j.setJob(t, id, "PROCESSING", draft)
			r := runNode(t, func() {
				// Written while the wait is held, so that the held
				// request or stream delivers it.
				awaitWaiter(t, j, tc.kind)
				j.complete(t, id, draft)
			}, j.URL, id, tc.mode)
			assert.Equal(t, declaredValues(t), r.Exports, "the module's exports are the declared ones")
			assert.Equal(t, r.Exports, r.Required, "require() gives the same module")
			assert.False(t, r.HasES, "Node 20 has no EventSource of its own")
			assert.Equal(t, "jobwait: baseUrl is required outside a page", r.NoBaseURL, "a wait without baseUrl in Node")
			assert.Equal(t, []string{tc.transport}, r.Transports)
			assert.Equal(t, tc.statuses, r.Statuses)
			require.Equal(t, "completed", r.Final, "error: %v", r.Error)
			assert.Equal(t, "COMPLETED", r.Body["status"])
			assert.Len(t, r.Body["recommendations"], 3)
		})
	}

	// A many-job long poll answered at once because one listed job is
	// final is asked again at once for the others, not after its
	// Retry-After (20 s here, past the wait's 15 s): the job completed
	// while the next poll is held is delivered, not timed out.
	t.Run("many", func(t *testing.T) {
		slow := startJobwait(t, "JOBWAIT_DEMO=false", "JOBWAIT_POLL_INTERVAL=20s")
		slow.setJob(t, "node-many-a", "PROCESSING", "draft-node-many-a")
		slow.complete(t, "node-many-a", "draft-node-many-a")
		slow.setJob(t, "node-many-b", "PROCESSING", "draft-node-many-b")
		r := runNode(t, func() {
			awaitWaiter(t, slow, "longpoll-many")
			slow.complete(t, "node-many-b", "draft-node-many-b")
		}, slow.URL, "node-many-a,node-many-b", "many")
		assert.Equal(t, []string{"longpoll"}, r.Transports)
		assert.Equal(t, map[string]string{"node-many-a": "completed", "node-many-b": "completed"}, r.Finals)
	})

	// An unknown job is the server's JSON error, in Node too.
	r := runNode(t, nil, j.URL, "node-nosuchjob", "longpoll")
	assert.Equal(t, "error", r.Final)
	assert.Equal(t, map[string]any{"code": "JOB_001", "message": "Job을 찾을 수 없습니다", "status": 404.0}, r.Error)
}

// awaitWaiter waits until j holds one waiter of kind.
func awaitWaiter(t *testing.T, j *jobwait, kind string) {
	t.Helper()
	streamtest.EventuallyEqual(t, stepTimeout, "a held "+kind, 1.0, func() float64 {
		return servertest.Metric(j.URL, "jobwait_waiters", "kind", kind)
	})
}

// TestPackageInChromium: a page on another origin imports the installed
// package by its name, through an import map that points where its
// package.json's exports say (what a bundler resolves), and waits for a
// job on jobwait across origins, over SSE.
func TestPackageInChromium(t *testing.T) {
	t.Parallel()
	var exports struct {
		Exports map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(readInstalled(t, "package.json"), &exports))
	var root struct{ Default string }
	require.NoError(t, json.Unmarshal(exports.Exports["."], &root))
	entry := root.Default
	require.NotEmpty(t, entry, "exports['.'].default")
	module := "/node_modules/" + clientPackage + "/" + strings.TrimPrefix(entry, "./")

	mux := http.NewServeMux()
	mux.Handle("/node_modules/", http.FileServer(http.Dir(consumerProject(t))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="importmap">{"imports": {%q: %q}}</script>
<script type="module">import * as client from %q; window.client = client;</script>`, clientPackage, module, clientPackage)
	})
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)

	j := startJobwait(t, "JOBWAIT_DEMO=false", "JOBWAIT_CORS_ORIGINS="+app.URL)
	const id, draft = "web-pkg-1", "draft-pkg"
	j.setJob(t, id, "PENDING", draft)
	p := openPage(t, &jobwait{URL: app.URL}, "/")
	p.waitFor(t, `typeof window.client === 'object'`, "the package imported by its name")
	assert.Equal(t, `["isTerminal","wait","waitMany"]`, p.eval(t, `JSON.stringify(Object.keys(client).sort())`))
	p.eval(t, recordWaits)
	p.eval(t, fmt.Sprintf(`client.wait(%q, Object.assign(__cb(%q), {baseUrl: %q})); ''`, id, id, j.URL))
	p.waitFor(t, fmt.Sprintf(`__w.status[%q] === 'PENDING'`, id), "the first state, across origins")
	j.complete(t, id, draft)
	p.waitFor(t, fmt.Sprintf(`!!__w.final[%q]`, id), "the result")
	assert.Equal(t, "completed:COMPLETED", p.finalOf(t, id))
	assert.Equal(t, `["sse"]`, p.eval(t, `JSON.stringify(__w.transports)`))
}
