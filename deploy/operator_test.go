package deploy

// The operator's view: the alert rules (promtool), the Grafana dashboard,
// and the compose profile that runs both. Every metric they name must be
// one the real jobwait exports.

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
)

// monitoringProfile is the compose profile of Prometheus and Grafana.
const monitoringProfile = "monitoring"

// promtoolHint is what a test says when promtool is missing.
const promtoolHint = "promtool not found in PATH: install it with `apt-get install -y prometheus` (or run `make test`, which does)"

func promtool(t *testing.T, args ...string) {
	t.Helper()
	redistest.SkipIfShort(t)
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal(promtoolHint)
	}
	cmd := exec.Command("promtool", args...)
	cmd.Dir = filepath.Join(repoRoot, "deploy", "prometheus")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestAlertRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yml")
	promtool(t, "test", "rules", "alerts_test.yml")
	promtool(t, "check", "config", "prometheus.yml")

	// At least three alerts have unit tests.
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/prometheus/alerts_test.yml"), &tests))
	tested := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			tested[a.Alertname] = true
		}
	}
	assert.GreaterOrEqual(t, len(tested), 3, "alerts with unit tests: %v", tested)
}

// TestDocumentedAlerts: the table of alerts in docs/production.md lists
// exactly the rules of alerts.yml, and every metric the docs tell the
// operator to alert on has a rule.
func TestDocumentedAlerts(t *testing.T) {
	readme := string(readFile(t, "docs/production.md"))
	var rules, metrics []string
	for _, r := range loadRules(t) {
		rules = append(rules, r.Alert)
		metrics = append(metrics, metricName.FindAllString(r.Expr, -1)...)
	}
	var table []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(Jobwait\\w+)`").FindAllStringSubmatch(readme, -1) {
		table = append(table, m[1])
	}
	slices.Sort(rules)
	slices.Sort(table)
	assert.Equal(t, rules, table, "docs/production.md's alert table and alerts.yml")
	advised := regexp.MustCompile("(?i)alert on `(\\w+)`").FindAllStringSubmatch(readme, -1)
	require.NotEmpty(t, advised, "docs/production.md advises alerting on a metric")
	for _, m := range advised {
		assert.Contains(t, metrics, m[1], "docs/production.md says to alert on %s: no rule does", m[1])
	}
}

// rule is one alert of alerts.yml.
type rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/prometheus/alerts.yml"), &f))
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	require.NotEmpty(t, out)
	return out
}

// panel is a Grafana panel; rows nest panels.
type panel struct {
	Title      string  `json:"title"`
	Type       string  `json:"type"`
	Panels     []panel `json:"panels"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) []panel {
	t.Helper()
	var d struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "deploy/grafana/dashboards/jobwait.json"), &d), "the dashboard is not JSON")
	require.NotEmpty(t, d.UID)
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	require.NotEmpty(t, out)
	return out
}

func TestDashboard(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/grafana/provisioning/datasources/prometheus.yml"), &ds))
	require.Len(t, ds.Datasources, 1)
	for _, p := range loadDashboard(t) {
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, q := range p.Targets {
			assert.NotEmpty(t, strings.TrimSpace(q.Expr), "panel %q has an empty query", p.Title)
		}
		assert.Equal(t, ds.Datasources[0].UID, p.Datasource.UID, "panel %q's datasource is not the provisioned one", p.Title)
	}
}

// metricName finds the metric names in a PromQL expression: jobwait's own,
// and the Go runtime's and the process's that jobwait exports.
var metricName = regexp.MustCompile(`\b(?:jobwait|process|go)_[a-z0-9_]+`)

func TestOperatorMetricsExist(t *testing.T) {
	srv := redistest.Start(t)
	jw := servertest.Start(t, "REDIS_URL="+srv.URL(), "JOBWAIT_DEMO=false")
	jw.WaitReady(t, 10*time.Second)
	scrape(t, jw.URL())             // the first scrape counts a request:
	exported := scrape(t, jw.URL()) // the second shows its series

	named := map[string][]string{} // metric -> where
	for _, r := range loadRules(t) {
		for _, m := range metricName.FindAllString(r.Expr, -1) {
			named[m] = append(named[m], "alert "+r.Alert)
		}
	}
	for _, p := range loadDashboard(t) {
		for _, q := range p.Targets {
			for _, m := range metricName.FindAllString(q.Expr, -1) {
				named[m] = append(named[m], "panel "+p.Title)
			}
		}
	}
	require.NotEmpty(t, named)
	for m, where := range named {
		assert.True(t, exported[m], "%s, named by %v, is not in jobwait's /metrics", m, slices.Compact(where))
	}
}

// scrape returns the names of the series on /metrics.
func scrape(t *testing.T, base string) map[string]bool {
	t.Helper()
	m, err := servertest.ReadMetrics(base)
	require.NoError(t, err)
	return m.Names()
}

func TestComposeMonitoringProfile(t *testing.T) {
	c := loadCompose(t)
	mounts := func(name string) []string {
		s, ok := c.Services[name]
		require.True(t, ok, "no %s service", name)
		assert.Equal(t, []string{monitoringProfile}, s.Profiles, "%s's profiles", name)
		var src []string
		for _, v := range s.Volumes {
			src = append(src, strings.Split(v, ":")[0]+":"+strings.Split(v, ":")[1])
		}
		return src
	}
	assert.ElementsMatch(t, []string{
		"./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml",
		"./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml",
	}, mounts("prometheus"))
	assert.ElementsMatch(t, []string{
		"./deploy/grafana/provisioning:/etc/grafana/provisioning",
		"./deploy/grafana/dashboards:/var/lib/grafana/dashboards",
	}, mounts("grafana"))

	// Prometheus scrapes every jobwait of the compose file, and nothing else.
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/prometheus/prometheus.yml"), &prom))
	assert.Equal(t, []string{"alerts.yml"}, prom.RuleFiles)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		assert.Equal(t, "jobwait", sc.JobName, "the rules select job=\"jobwait\"")
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	var want []string
	for name, s := range c.Services {
		if s.isJobwait() {
			want = append(want, name+":8080")
		}
	}
	assert.ElementsMatch(t, want, targets)
}
