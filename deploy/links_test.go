package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoFiles are the repository's files whose names match pattern,
// relative to its root: those git tracks or would (not those it ignores,
// such as the reports a benchmark writes).
func repoFiles(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "--cached", "--others", "--exclude-standard", "--", pattern).Output()
	require.NoError(t, err, "git ls-files")
	return strings.Fields(string(out))
}

// markdownFiles are the repository's Markdown files.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := repoFiles(t, "*.md")
	require.Contains(t, files, "README.md")
	return files
}

// TestDocLinks: every relative link of every Markdown file names a file or
// directory inside the repository, and an anchor into a Markdown file names
// one of its headings. Links to the web are not followed.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	for _, file := range markdownFiles(t) {
		md := string(readFile(t, file))
		for _, l := range links(md) {
			if strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			where := fmt.Sprintf("%s:%d: %s", file, l.line, l.target)
			path, anchor, _ := strings.Cut(l.target, "#")
			target := filepath.Join(root, file) // a bare #anchor is into the file itself
			if path != "" {
				target = filepath.Join(filepath.Dir(target), filepath.FromSlash(path))
			}
			rel, err := filepath.Rel(root, target)
			if !assert.NoError(t, err, where) || !assert.False(t, rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)), "%s: outside the repository", where) {
				continue
			}
			if _, err := os.Stat(target); !assert.NoError(t, err, "%s: no such file", where) {
				continue
			}
			if anchor != "" && strings.HasSuffix(target, ".md") {
				body, err := os.ReadFile(target)
				require.NoError(t, err)
				assert.True(t, anchors(string(body))[anchor], "%s: %s has no heading with the anchor #%s", where, rel, anchor)
			}
		}
	}
}

var (
	namedTest = regexp.MustCompile("`((?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*)`")
	testFunc  = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]*)\(`)
)

// TestDocsNameTestsThatExist: a test, fuzzer or benchmark a Markdown file
// names (in a code span, as docs/guarantees.md names what proves each
// promise) is a function of some _test.go file of the repository.
func TestDocsNameTestsThatExist(t *testing.T) {
	defined := map[string]bool{}
	for _, f := range repoFiles(t, "*_test.go") {
		for _, m := range testFunc.FindAllStringSubmatch(string(readFile(t, f)), -1) {
			defined[m[1]] = true
		}
	}
	require.NotEmpty(t, defined)
	named := 0
	for _, file := range markdownFiles(t) {
		for i, line := range strings.Split(string(readFile(t, file)), "\n") {
			for _, m := range namedTest.FindAllStringSubmatch(line, -1) {
				named++
				assert.True(t, defined[m[1]], "%s:%d names %s, which no _test.go defines", file, i+1, m[1])
			}
		}
	}
	assert.Greater(t, named, 100, "docs/guarantees.md names the tests behind its promises")
}
