package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typescriptVersion is the compiler the declarations are checked with.
const typescriptVersion = "7.0.2"

// tsc returns the TypeScript compiler, installed with npm into the user's
// cache (or JOBWAIT_TSC_DIR) on first use: `make test` needs only npm.
func tsc(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("JOBWAIT_TSC_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		require.NoError(t, err)
		dir = filepath.Join(cache, "jobwait", "typescript-"+typescriptVersion)
	}
	bin := filepath.Join(dir, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	npm, err := exec.LookPath("npm")
	require.NoError(t, err, "npm not found: install it (apt-get install -y nodejs npm) to check jobwait.d.ts")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	out, err := exec.Command(npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir,
		"typescript@"+typescriptVersion).CombinedOutput()
	require.NoError(t, err, "npm install typescript:\n%s", out)
	return bin
}

// TestTypeDeclarations checks jobwait.d.ts with tsc --noEmit --strict: a
// typed use of the whole API compiles, and each misuse is an error.
func TestTypeDeclarations(t *testing.T) {
	bin := tsc(t)
	check := func(file string) (string, error) {
		out, err := exec.Command(bin, "--noEmit", "--strict", "--target", "es2017", "--lib", "es2017,dom",
			filepath.Join("testdata", file)).CombinedOutput()
		return string(out), err
	}
	out, err := check("usage.ts")
	require.NoError(t, err, "tsc --noEmit testdata/usage.ts:\n%s", out)

	out, err = check("misuse.ts")
	require.Error(t, err, "testdata/misuse.ts compiled")
	src, err := os.ReadFile(filepath.Join("testdata", "misuse.ts"))
	require.NoError(t, err)
	want := 0
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "jobwait.") {
			want++
		}
	}
	got := regexp.MustCompile(`(?m)^testdata/misuse\.ts\(\d+,\d+\): error TS`).FindAllString(out, -1)
	assert.Len(t, got, want, "one error per misuse:\n%s", out)
}
