package deploy

// Checks of the Helm chart's files that need no helm: they run in the fast
// tier (-short).

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	chartValues = "deploy/helm/jobwait/values.yaml"
	chartReadme = "deploy/helm/jobwait/README.md"
)

// TestHelmDecodeIsStrict: what the rendering tests decode with refuses
// what the API server would: an unknown or misspelt field, a field in the
// wrong case, a field twice, a kind the chart has no business making.
func TestHelmDecodeIsStrict(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i%s}]
`
	r, err := decodeRelease([]byte("---\n# a comment alone\n---\n" + strings.Replace(deployment, "%s", "", 1)))
	require.NoError(t, err)
	require.NotNil(t, r.deployment)
	assert.Equal(t, "i", r.deployment.Spec.Template.Spec.Containers[0].Image)

	for name, doc := range map[string]string{
		"misspelt":    strings.Replace(deployment, "%s", ", imagePullPolicy: Always, livenesProbe: {}", 1),
		"wrong case":  strings.Replace(deployment, "%s", ", ImagePullPolicy: Always", 1),
		"twice":       strings.Replace(deployment, "%s", ", image: j", 1),
		"unread kind": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		"monitor misspelt": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\n" +
			"spec: {selector: {}, endpoints: [{port: http, intervall: 30s}]}\n",
		"two deployments": strings.Replace(deployment, "%s", "", 1) + "---\n" + strings.Replace(deployment, "%s", "", 1),
	} {
		_, err := decodeRelease([]byte(doc))
		assert.Error(t, err, "%s:\n%s", name, doc)
	}
}

// TestHelmReadmeValues: the chart README's table of values lists every
// value of values.yaml (a row may stand for a whole section, such as
// resources) and no other, with its default where the table gives it as
// code.
func TestHelmReadmeValues(t *testing.T) {
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(readFile(t, chartValues), &root))
	leaves := map[string]*yaml.Node{}
	valueLeaves("", root.Content[0], leaves)
	require.Contains(t, leaves, "config.waitBudget")

	_, table, ok := strings.Cut(string(readFile(t, chartReadme)), "\n## Values\n")
	require.True(t, ok, "the chart README has a Values section")
	table, _, _ = strings.Cut(table, "\n## ")
	rows := map[string]string{} // key -> default cell
	for _, line := range strings.Split(table, "\n") {
		m := valuesRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		assert.NotContains(t, rows, m[1], "README lists %s twice", m[1])
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	for key := range rows {
		covered := false
		for leaf := range leaves {
			covered = covered || leaf == key || strings.HasPrefix(leaf, key+".")
		}
		assert.True(t, covered, "README's values table lists %s, which values.yaml does not have", key)
	}
	for leaf, n := range leaves {
		row, ok := "", false
		for key, cell := range rows {
			if leaf == key || strings.HasPrefix(leaf, key+".") {
				row, ok = cell, true
			}
		}
		if !assert.True(t, ok, "README's values table does not list %s", leaf) {
			continue
		}
		if _, isRow := rows[leaf]; isRow && strings.HasPrefix(row, "`") {
			assert.Equal(t, "`"+yamlDefault(n)+"`", strings.Fields(row)[0], "%s's default in README", leaf)
		}
	}
}

var valuesRow = regexp.MustCompile("^\\| `([a-zA-Z][\\w.]*)` \\| ([^|]*) \\|")

// valueLeaves collects the values under n by dotted path: each scalar,
// list and empty mapping.
func valueLeaves(prefix string, n *yaml.Node, into map[string]*yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		into[prefix] = n
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if prefix != "" {
			key = prefix + "." + key
		}
		valueLeaves(key, n.Content[i+1], into)
	}
}

// yamlDefault is a value as the README writes it: "" for an empty string.
func yamlDefault(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "[]"
	case n.Kind == yaml.MappingNode:
		return "{}"
	case n.Value == "" && n.Tag == "!!str":
		return `""`
	}
	return n.Value
}

// TestHelmProductionValuesKnown: every key values-production.yaml sets is
// one of values.yaml's (below a free-form value, such as a map of labels or
// a list, anything goes), so that a misspelt key is not silently ignored.
func TestHelmProductionValuesKnown(t *testing.T) {
	var defaults, production yaml.Node
	require.NoError(t, yaml.Unmarshal(readFile(t, chartValues), &defaults))
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/helm/"+productionValues), &production))
	var walk func(path string, def, prod *yaml.Node)
	walk = func(path string, def, prod *yaml.Node) {
		if def.Kind != yaml.MappingNode || len(def.Content) == 0 || prod.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(prod.Content); i += 2 {
			key := prod.Content[i].Value
			j := slices.IndexFunc(def.Content, func(k *yaml.Node) bool { return k.Value == key })
			if !assert.True(t, j >= 0 && j%2 == 0, "values-production.yaml sets %s%s, which values.yaml does not have", path, key) {
				continue
			}
			walk(path+key+".", def.Content[j+1], prod.Content[i+1])
		}
	}
	walk("", defaults.Content[0], production.Content[0])
}

var sizingRow = regexp.MustCompile("(?m)^\\| `(\\d+[MG]i)`[^|]* \\| ([\\d,]+) \\| ([\\d,]+) \\|")

// sizingRows are the chart README's sizing table: each a memory limit and
// the connections and waiters the chart gives it.
func sizingRows(t *testing.T) [][]string {
	t.Helper()
	return sizingRow.FindAllStringSubmatch(string(readFile(t, chartReadme)), -1)
}
