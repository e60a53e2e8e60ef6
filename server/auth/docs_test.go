package auth_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Go code docs/auth.md shows is example_test.go's, so that it
// compiles and runs.
func TestDocsCodeIsTheExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/auth.md")
	require.NoError(t, err)
	examples, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	require.Len(t, blocks, 2, "docs/auth.md's Go blocks")
	for _, b := range blocks {
		assert.True(t, strings.Contains(string(examples), b[1]), "docs/auth.md shows code that example_test.go does not hold:\n%s", b[1])
	}
}
