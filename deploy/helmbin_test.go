package deploy

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
)

// The chart's tests run the helm command itself, built from its Go module
// at a pinned version into the user cache (once per machine, like the npm
// packages of npmtest), rather than link Helm's Go packages into this
// package's tests: Helm brings client-go, the API extensions server and
// the OCI registry client, a hundred-odd modules that go.mod would carry
// for every build and every `go test ./deploy/` would link. The helm
// binary costs a few minutes once (downloading and compiling); after that
// each render is one exec of a ready binary. Only the Kubernetes API types
// the tests decode into (k8s.io/api, k8s.io/apimachinery) are in go.mod.
const (
	helmModule  = "helm.sh/helm/v4"
	helmVersion = "v4.3.2"
)

var helmBuild sync.Mutex // one build at a time in this process

// helmBinary returns the path of the helm command at helmVersion, building
// it with `go install` first if the cache lacks it.
func helmBinary(t testing.TB) string {
	t.Helper()
	redistest.SkipIfShort(t)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	root := filepath.Join(cache, "jobwait", "helm")
	bin := filepath.Join(root, helmVersion, "helm")

	helmBuild.Lock()
	defer helmBuild.Unlock()
	if helmBuiltAt(bin) == helmVersion {
		return bin
	}
	require.NoError(t, os.RemoveAll(filepath.Dir(bin))) // a build cut short, or of another module
	require.NoError(t, os.MkdirAll(root, 0o755))
	tmp, err := os.MkdirTemp(root, ".build-")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	t.Logf("building helm %s into %s (once per machine: it takes minutes)", helmVersion, bin)
	cmd := exec.Command("go", "install", helmModule+"/cmd/helm@"+helmVersion)
	cmd.Dir = tmp // outside this module: @version builds ignore its go.mod anyway
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go install %s/cmd/helm@%s:\n%s", helmModule, helmVersion, out)
	// Another process may have won the race: its binary is as good.
	if err := os.Rename(tmp, filepath.Dir(bin)); err != nil {
		require.Equal(t, helmVersion, helmBuiltAt(bin), "install %s: %v", bin, err)
	}
	return bin
}

// helmBuiltAt is the version of Helm's module bin was built from, or ""
// when bin is missing or not such a build.
func helmBuiltAt(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil || info.Main.Path != helmModule {
		return ""
	}
	return info.Main.Version
}

// helm runs the helm command with args from the chart's directory and
// returns its standard output; a failure returns its standard error as
// the error's text.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Dir = filepath.Join(repoRoot, "deploy", "helm")
	// Helm's own files (repositories, plugins, registry logins) stay out of
	// the user's: the chart needs none of them.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &helmError{args: args, stderr: strings.TrimSpace(stderr.String()), err: err}
	}
	return string(out), nil
}

// helmError is a failed helm run, with what it said.
type helmError struct {
	args   []string
	stderr string
	err    error
}

func (e *helmError) Error() string {
	return "helm " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// TestHelmBinary: the helm the chart's tests run is the pinned release.
// `make test` runs it first, so that building helm on a new machine is not
// counted against the suite's timeout.
func TestHelmBinary(t *testing.T) {
	bin := helmBinary(t)
	assert.Equal(t, helmVersion, helmBuiltAt(bin))
	out, err := helm(t, "version", "--template", "{{.Version}}")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(helmVersion, strings.TrimSpace(out)), "helm version = %q; want a prefix of %s", out, helmVersion)
}
