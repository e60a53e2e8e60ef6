package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/web/npmtest"
)

// The OpenAPI linters people run, pinned. Redocly CLI 2.77 is the last to
// run on Node 20.
const (
	redoclyVersion  = "@redocly/cli@2.77.0"
	spectralVersion = "@stoplight/spectral-cli@6.16.3"
)

// TestOpenAPILint runs `redocly lint` with its built-in recommended rules
// and `spectral lint` with spectral:oas on docs/openapi.yaml: neither may
// report an error. Their warnings are logged. Each runs in an empty
// directory, so that no configuration file of the checkout changes its
// rules.
func TestOpenAPILint(t *testing.T) {
	tools := npmtest.Install(t, redoclyVersion, spectralVersion)
	spec, err := filepath.Abs(filepath.Join(repoRoot, "docs", "openapi.yaml"))
	require.NoError(t, err)
	lint := func(t *testing.T, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(npmtest.Bin(tools, name), args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s %v:\n%s", name, args, out)
		t.Logf("%s:\n%s", name, out)
	}
	t.Run("redocly", func(t *testing.T) {
		lint(t, "redocly", "lint", "--format=stylish", spec)
	})
	t.Run("spectral", func(t *testing.T) {
		ruleset := filepath.Join(t.TempDir(), ".spectral.yaml")
		require.NoError(t, os.WriteFile(ruleset, []byte("extends: [\"spectral:oas\"]\n"), 0o644))
		lint(t, "spectral", "lint", "--ruleset", ruleset, "--format", "text", spec)
	})
}
