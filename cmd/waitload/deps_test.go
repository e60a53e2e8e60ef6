package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinariesLinkNoTestKit: neither the service nor the load tester links
// testify or one of the project's test kits, which are for tests alone (the
// testing package itself comes in with fiber's utils).
func TestBinariesLinkNoTestKit(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command lists what a binary links")
	for _, bin := range []string{"jobwait/cmd/jobwait", "jobwait/cmd/waitload"} {
		out, err := exec.Command(goCmd, "list", "-deps", bin).Output()
		require.NoError(t, err, bin)
		for _, pkg := range strings.Fields(string(out)) {
			test := strings.Contains(pkg, "testify") || strings.HasPrefix(pkg, "jobwait/") && strings.HasSuffix(pkg, "test")
			assert.False(t, test, "%s links %s", bin, pkg)
		}
	}
}
