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

	"jobwait/web/npmtest"
)

// typescriptVersion is the compiler the declarations are checked with.
const typescriptVersion = "typescript@7.0.2"

// TestTypeDeclarations checks jobwait.d.ts as a consumer of the installed
// package sees it, importing '@jobwait/client' through its package.json's
// exports, with tsc --noEmit --strict: a typed use of the whole API
// compiles, and each misuse is an error.
func TestTypeDeclarations(t *testing.T) {
	t.Parallel()
	tsc := npmtest.Bin(npmtest.Install(t, typescriptVersion), "tsc")
	dir := consumerProject(t)
	check := func(file string) (string, error) {
		cmd := exec.Command(tsc, "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext",
			"--target", "es2020", "--lib", "es2020,dom", "--types", "", file)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := check("usage.ts")
	require.NoError(t, err, "tsc --noEmit usage.ts:\n%s", out)

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
	got := regexp.MustCompile(`(?m)^misuse\.ts\(\d+,\d+\): error TS`).FindAllString(out, -1)
	assert.Len(t, got, want, "one error per misuse:\n%s", out)
}
