package npmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"jobwait/store/redistest"

	"github.com/stretchr/testify/require"
)

// NPMHint is what a test says when npm is missing.
const NPMHint = "npm not found: install it with `apt-get install -y nodejs npm` (or run `make test`, which does)"

var installs sync.Mutex // one install at a time in this process

// Install returns the directory where packages (each name@version) are
// installed, installing them with npm first if needed; see Bin.
func Install(t testing.TB, packages ...string) string {
	t.Helper()
	redistest.SkipIfShort(t)
	require.NotEmpty(t, packages)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	root := filepath.Join(cache, "jobwait", "npm")
	dir := filepath.Join(root, dirName(packages))

	installs.Lock()
	defer installs.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return dir
	}
	npm, err := exec.LookPath("npm")
	require.NoError(t, err, NPMHint)
	require.NoError(t, os.MkdirAll(root, 0o755))
	tmp, err := os.MkdirTemp(root, ".install-")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	args := append([]string{"install", "--no-save", "--no-audit", "--no-fund", "--prefix", tmp}, packages...)
	cmd := exec.Command(npm, args...)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm install %s:\n%s", strings.Join(packages, " "), out)
	// Another process may have won the race: its directory is as good.
	if err := os.Rename(tmp, dir); err != nil {
		_, statErr := os.Stat(filepath.Join(dir, "node_modules"))
		require.NoError(t, statErr, "install %s: %v", dir, err)
	}
	return dir
}

// Bin is the path of an installed package's command.
func Bin(dir, command string) string {
	return filepath.Join(dir, "node_modules", ".bin", command)
}

// dirName names the directory of a set of packages: "@redocly/cli@2.77.0"
// and "typescript@7.0.2" make "redocly-cli@2.77.0+typescript@7.0.2".
func dirName(packages []string) string {
	names := make([]string, len(packages))
	for i, p := range packages {
		names[i] = strings.ReplaceAll(strings.TrimPrefix(p, "@"), "/", "-")
	}
	return strings.Join(names, "+")
}
