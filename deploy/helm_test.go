package deploy

// The Helm chart (deploy/helm/jobwait), rendered by the real helm and
// decoded strictly into the Kubernetes API types: with its default values
// and with values-production.yaml, it must describe a jobwait that
// Kubernetes runs as jobwait expects to be run (probes, shutdown, sizing,
// secrets, selectors), and refuse values that could not work.

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// productionValues is the chart's example for production.
const productionValues = "jobwait/values-production.yaml"

// expect is what a rendering should hold beyond the rules every rendering
// keeps (checkRelease).
type expect struct {
	external       map[string][]string // Secrets the chart refers to but does not make, with the keys read
	hpa            bool
	serviceMonitor bool
}

func TestHelmLint(t *testing.T) {
	for _, args := range [][]string{nil, {"-f", productionValues}} {
		out, err := helm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
		assert.NoError(t, err, "helm lint %v:\n%s", args, out)
	}
}

// TestHelmNotes: what helm prints after an install gives the caps, and the
// grace, that the pods run with, and warns where it should.
func TestHelmNotes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		want, dontWant []string
	}{
		{"defaults", nil, []string{"embedded store"}, []string{"trustedProxies"}},
		{"production", []string{"-f", productionValues}, nil, []string{"embedded store", "trustedProxies"}},
		{"redis behind no trusted proxy", []string{"--set", "redis.url=redis://r:6379/0"}, []string{"config.trustedProxies is empty"}, []string{"embedded store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.args...)
			out, err := helm(t, append([]string{"install", releaseName, chartDir, "--namespace", "jobs", "--dry-run=client"}, tc.args...)...)
			require.NoError(t, err)
			_, notes, ok := strings.Cut(out, "\nNOTES:\n")
			require.True(t, ok, "helm install prints NOTES:\n%s", out)
			want := append(tc.want,
				fmt.Sprintf("at most %s waits on %s connections", r.value(t, "JOBWAIT_MAX_WAITERS"), r.value(t, "JOBWAIT_MAX_CONNS")),
				fmt.Sprintf("the grace is %d s", *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds),
				fmt.Sprintf("%d s to leave the Service", r.container(t).Lifecycle.PreStop.Sleep.Seconds))
			for _, w := range want {
				assert.Contains(t, strings.Join(strings.Fields(notes), " "), w)
			}
			for _, w := range tc.dontWant {
				assert.NotContains(t, notes, w)
			}
		})
	}
}

// TestHelmDefaults: without values the chart runs one replica on the
// embedded store (demo mode), with no Secret, autoscaler or ServiceMonitor.
func TestHelmDefaults(t *testing.T) {
	r := render(t)
	checkRelease(t, r, expect{})
	assert.Equal(t, r, render(t, "--kube-version", "1.30.0"), "the same on the oldest Kubernetes the chart allows")
	assert.Empty(t, r.secrets)
	_, hasURL := r.env(t, "REDIS_URL")
	assert.False(t, hasURL, "REDIS_URL set without redis values")
	require.NotNil(t, r.deployment.Spec.Replicas)
	assert.EqualValues(t, 1, *r.deployment.Spec.Replicas)
}

// TestHelmProduction: values-production.yaml, with its Secrets made
// outside the chart (the URL, and cert-manager's TLS files).
func TestHelmProduction(t *testing.T) {
	r := render(t, "-f", productionValues)
	checkRelease(t, r, expect{
		external: map[string][]string{
			"jobwait-redis":     {"redis-url"},
			"jobwait-redis-tls": {"ca.crt", "tls.crt", "tls.key"},
		},
		hpa:            true,
		serviceMonitor: true,
	})
	assert.Empty(t, r.secrets, "the chart makes no Secret when given existing ones")
	for _, name := range []string{"JOBWAIT_REDIS_CA", "JOBWAIT_REDIS_CERT", "JOBWAIT_REDIS_KEY"} {
		assert.NotEmpty(t, r.value(t, name), name)
	}
	var kinds []string
	for _, m := range r.hpa.Spec.Metrics {
		kinds = append(kinds, string(m.Type))
		if m.Pods != nil {
			assert.Equal(t, "jobwait_waiters", m.Pods.Metric.Name)
		}
	}
	assert.ElementsMatch(t, []string{"Resource", "Pods"}, kinds, "autoscaled on CPU and on held waits")
	assert.Len(t, r.deployment.Spec.Template.Spec.TopologySpreadConstraints, 2)
}

func TestHelmServiceMonitorOnlyWhenEnabled(t *testing.T) {
	assert.Nil(t, render(t).serviceMonitor, "default")
	r := render(t, "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=prom")
	checkRelease(t, r, expect{serviceMonitor: true})
	assert.Equal(t, "prom", r.serviceMonitor.Labels["release"])
	assert.Nil(t, render(t, "-f", productionValues, "--set", "serviceMonitor.enabled=false").serviceMonitor, "production, disabled")
}

// TestHelmAutoscaling: the autoscaler on CPU alone (the default), on held
// waits alone, and its waiters target: 60% of the cap unless set.
func TestHelmAutoscaling(t *testing.T) {
	withRedis := []string{"--set", "redis.url=redis://redis:6379/0", "--set", "autoscaling.enabled=true"}
	r := render(t, withRedis...)
	checkRelease(t, r, expect{hpa: true})
	require.Len(t, r.hpa.Spec.Metrics, 1)
	assert.Equal(t, corev1.ResourceCPU, r.hpa.Spec.Metrics[0].Resource.Name)
	assert.Nil(t, r.deployment.Spec.Replicas, "the autoscaler owns the replica count")

	r = render(t, append(withRedis, "--set", "autoscaling.cpu.enabled=false", "--set", "autoscaling.waiters.enabled=true")...)
	checkRelease(t, r, expect{hpa: true})
	require.Len(t, r.hpa.Spec.Metrics, 1)
	target := r.hpa.Spec.Metrics[0].Pods.Target.AverageValue
	waiters, _ := strconv.ParseInt(r.value(t, "JOBWAIT_MAX_WAITERS"), 10, 64)
	assert.Equal(t, waiters*60/100, target.Value(), "default target: 60%% of %d", waiters)

	r = render(t, append(withRedis, "--set", "autoscaling.waiters.enabled=true", "--set", "autoscaling.waiters.targetAverage=5000")...)
	assert.Len(t, r.hpa.Spec.Metrics, 2)
	assert.EqualValues(t, 5000, r.hpa.Spec.Metrics[1].Pods.Target.AverageValue.Value())
}

// TestHelmExtraEnv: more variables come after the chart's.
func TestHelmExtraEnv(t *testing.T) {
	r := render(t, "--set", "extraEnv[0].name=GODEBUG", "--set-string", "extraEnv[0].value=madvdontneed=1")
	checkRelease(t, r, expect{})
	env := r.container(t).Env
	assert.Equal(t, corev1.EnvVar{Name: "GODEBUG", Value: "madvdontneed=1"}, env[len(env)-1])
}

// TestHelmGraceFromBudget: the termination grace is the preStop sleep, the
// wait budget (rounded up to a second) and jobwait's own shutdown bound.
func TestHelmGraceFromBudget(t *testing.T) {
	shutdown := jobwaitShutdownSeconds(t)
	for _, tc := range []struct {
		budget  string
		seconds int64
	}{
		{"30s", 30}, {"45", 45}, {"1m30s", 90}, {"2.5s", 3}, {"1500ms", 2}, {"1h", 3600},
	} {
		r := render(t, "--set-string", "config.waitBudget="+tc.budget, "--set", "preStopSleepSeconds=7")
		assert.Equal(t, tc.budget, r.value(t, "JOBWAIT_WAIT_BUDGET"))
		assert.EqualValues(t, 7+tc.seconds+shutdown, *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds, "budget %s", tc.budget)
	}
	r := render(t, "--set", "terminationGracePeriodSeconds=120")
	assert.EqualValues(t, 120, *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds, "set by hand")
}

// TestHelmRedisSources: each way the chart is given Redis's URL and
// password, TLS files, and the wait tokens' secret.
func TestHelmRedisSources(t *testing.T) {
	t.Run("url", func(t *testing.T) {
		r := render(t, "--set", "redis.url=redis://redis:6379/0", "--set", "replicaCount=3")
		checkRelease(t, r, expect{})
		assert.Equal(t, "redis://redis:6379/0", r.secrets["rel-jobwait-redis"].StringData["redis-url"])
		assert.NotEmpty(t, r.deployment.Spec.Template.Annotations["checksum/redis"], "a new URL rolls the pods")
	})
	t.Run("password put into the url", func(t *testing.T) {
		const password = "p@ss:w/rd +x%#?"
		r := render(t, "--set-string", "redis.url=redis://:$(REDIS_PASSWORD)@redis:6379/0", "--set-string", "redis.password="+password)
		checkRelease(t, r, expect{})
		u, err := url.Parse(r.secrets["rel-jobwait-redis"].StringData["redis-url"])
		require.NoError(t, err)
		got, _ := u.User.Password()
		assert.Equal(t, password, got)
		assert.Equal(t, "redis:6379", u.Host)
		_, set := r.env(t, "REDIS_PASSWORD")
		assert.False(t, set, "the password is in the URL only")
	})
	t.Run("existing secret", func(t *testing.T) {
		r := render(t, "--set", "redis.existingSecret=mine", "--set", "redis.existingSecretUrlKey=url")
		checkRelease(t, r, expect{external: map[string][]string{"mine": {"url"}}})
		assert.Empty(t, r.secrets)
	})
	t.Run("password alone in an existing secret", func(t *testing.T) {
		r := render(t, "--set", "redis.existingSecret=redis", "--set", "redis.existingSecretPasswordKey=redis-password",
			"--set-string", "redis.url=redis://:$(REDIS_PASSWORD)@redis-master:6379/0")
		checkRelease(t, r, expect{external: map[string][]string{"redis": {"redis-password"}}})
		assert.Equal(t, "redis://:$(REDIS_PASSWORD)@redis-master:6379/0", r.value(t, "REDIS_URL"), "Kubernetes fills the password in")
	})
	t.Run("tls files from values", func(t *testing.T) {
		r := render(t, "--set", "redis.url=rediss://redis:6380/0", "--set-string", "redis.tls.ca=CA PEM",
			"--set-string", "redis.tls.cert=CERT PEM", "--set-string", "redis.tls.key=KEY PEM")
		checkRelease(t, r, expect{})
		s := r.secrets["rel-jobwait-redis-tls"]
		require.NotNil(t, s, "the chart's TLS Secret")
		assert.Equal(t, map[string]string{"ca.crt": "CA PEM", "tls.crt": "CERT PEM", "tls.key": "KEY PEM"}, s.StringData)
		assert.Equal(t, "/etc/jobwait/redis-tls/tls.key", r.value(t, "JOBWAIT_REDIS_KEY"))
	})
	t.Run("the wait tokens' secret as a file", func(t *testing.T) {
		r := render(t, "--set", "authSecret.existingSecret=tokens", "--set", "authSecret.key=hs256")
		checkRelease(t, r, expect{external: map[string][]string{"tokens": {"hs256"}}})
		assert.Equal(t, "/etc/jobwait/auth/hs256", r.value(t, "JOBWAIT_AUTH_SECRET_FILE"))
	})
	t.Run("a CA alone from an existing secret", func(t *testing.T) {
		r := render(t, "--set", "redis.existingSecret=mine", "--set", "redis.tls.existingSecret=ca", "--set", "redis.tls.caKey=memorystore.pem",
			"--set", "redis.tls.certKey=", "--set", "redis.tls.keyKey=")
		checkRelease(t, r, expect{external: map[string][]string{"mine": {"redis-url"}, "ca": {"memorystore.pem"}}})
		assert.Equal(t, "/etc/jobwait/redis-tls/memorystore.pem", r.value(t, "JOBWAIT_REDIS_CA"))
		_, cert := r.env(t, "JOBWAIT_REDIS_CERT")
		assert.False(t, cert, "no client certificate")
	})
}

// TestHelmRefuses: values that could not work stop the render with a
// message naming what to change.
func TestHelmRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"replicas without redis", []string{"--set", "replicaCount=2"}, "needs Redis"},
		{"autoscaling without redis", []string{"--set", "autoscaling.enabled=true"}, "needs Redis"},
		{"a misspelt setting", []string{"--set", "config.waitBuget=10s"}, "waitBuget"},
		{"a misspelt section", []string{"--set", "autoscalling.enabled=true"}, "autoscalling"},
		{"a budget jobwait cannot read", []string{"--set", "config.waitBudget=30 s"}, "waitBudget"},
		{"a memory limit in other units", []string{"--set", "resources.limits.memory=1G"}, "Mi or Gi"},
		{"no memory limit and no caps", []string{"--set", "resources.limits=null"}, "resources.limits.memory"},
		{"too little memory", []string{"--set", "resources.limits.memory=40Mi"}, "too small"},
		{"more waiters than connections", []string{"--set", "config.maxConns=1000", "--set", "config.maxWaiters=2000"}, "above config.maxConns"},
		{"a password the url does not name", []string{"--set", "redis.url=redis://redis:6379/0", "--set", "redis.password=x"}, "$(REDIS_PASSWORD)"},
		{"a url naming no password given", []string{"--set-string", "redis.url=redis://:$(REDIS_PASSWORD)@redis:6379/0"}, "redis.password"},
		{"tls files with redis://", []string{"--set", "redis.url=redis://redis:6379/0", "--set", "redis.tls.ca=PEM"}, "rediss://"},
		{"a certificate without its key", []string{"--set", "redis.url=rediss://redis:6379/0", "--set", "redis.tls.cert=PEM"}, "together"},
		{"both disruption bounds", []string{"--set", "podDisruptionBudget.minAvailable=2"}, "not both"},
		{"autoscaling on nothing", []string{"--set", "redis.url=redis://r:6379/0", "--set", "autoscaling.enabled=true", "--set", "autoscaling.cpu.enabled=false"}, "cpu, waiters or both"},
		{"an unknown notify mode", []string{"--set", "config.notify=pubsub"}, "notify"},
		{"a cluster without the kubelet's preStop sleep", []string{"--kube-version", "1.29.0"}, "kubeVersion"},
		{"extraEnv over a setting of the chart", []string{"--set", "extraEnv[0].name=JOBWAIT_MAX_CONNS", "--set-string", "extraEnv[0].value=9"}, "extraEnv sets JOBWAIT_MAX_CONNS"},
		{"a grace within the budget", []string{"--set", "terminationGracePeriodSeconds=30"}, "terminationGracePeriodSeconds 30"},
		{"a grace shorter than preStop and shutdown", []string{"--set", "config.waitBudget=5s", "--set", "terminationGracePeriodSeconds=12"}, "terminationGracePeriodSeconds 12"},
		{"a disruption budget that allows none", []string{"--set", "podDisruptionBudget.maxUnavailable=0"}, "allows no replica"},
		{"a disruption budget keeping every replica", []string{"--set", "redis.url=redis://r:6379/0", "--set", "replicaCount=3",
			"--set", "podDisruptionBudget.maxUnavailable=", "--set", "podDisruptionBudget.minAvailable=3"}, "allows no replica of 3"},
		{"fewer replicas at most than at least", []string{"--set", "redis.url=redis://r:6379/0", "--set", "autoscaling.enabled=true",
			"--set", "autoscaling.minReplicas=5", "--set", "autoscaling.maxReplicas=3"}, "minReplicas is above"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := renderErr(t, tc.args...)
			require.Error(t, err, "rendered:\n%s", out)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestHelmSizing: the caps the chart derives from the memory limit keep
// the worst mix of connections within it, for small and large limits, and
// the figures its documents give are what it renders.
func TestHelmSizing(t *testing.T) {
	for _, limit := range []string{"64Mi", "256Mi", "512Mi", "1Gi", "2Gi", "8Gi", "64Gi"} {
		t.Run(limit, func(t *testing.T) {
			checkRelease(t, render(t, "--set", "resources.limits.memory="+limit, "--set", "resources.requests.memory="+limit), expect{})
		})
	}
	// Caps set by hand are used as they are, within memory or not: the
	// values' comments say how to keep them within it.
	r := render(t, "--set", "config.maxConns=300000", "--set", "config.maxWaiters=250000", "--set", "resources.limits=null", "--set", "resources.requests.memory=null")
	assert.Equal(t, "300000", r.value(t, "JOBWAIT_MAX_CONNS"))
	assert.Equal(t, "250000", r.value(t, "JOBWAIT_MAX_WAITERS"))
	_, set := r.env(t, "GOMEMLIMIT")
	assert.False(t, set, "GOMEMLIMIT without a memory limit")

	// The examples of values.yaml and docs/production.md, and the chart
	// README's table.
	var examples [][]string
	for _, file := range []string{"deploy/helm/jobwait/values.yaml", "docs/production.md"} {
		m := sizingExample.FindAllStringSubmatch(string(readFile(t, file)), -1)
		require.NotEmpty(t, m, "%s gives an example of sizing (%s)", file, sizingExample)
		examples = append(examples, m...)
	}
	rows := sizingRows(t)
	require.NotEmpty(t, rows, "the chart README's sizing table")
	for _, m := range append(examples, rows...) {
		r := render(t, "--set", "resources.limits.memory="+m[1])
		assert.Equal(t, strings.ReplaceAll(m[2], ",", ""), r.value(t, "JOBWAIT_MAX_CONNS"), "connections at %s", m[1])
		assert.Equal(t, strings.ReplaceAll(m[3], ",", ""), r.value(t, "JOBWAIT_MAX_WAITERS"), "waiters at %s", m[1])
	}
}

var sizingExample = regexp.MustCompile(`(\d+[MG]i)(?: \(the default\))? gives ([\d,]+) connections and\s+(?:#\s+)?([\d,]+) wait`)

// TestHelmEverySetting: every environment variable of README's settings
// table (which TestReadmeSettingsAreJobwaitHelp holds to jobwait -h) can be
// given through the chart (config, or the Redis and secret values), and
// every one the chart sets is jobwait's.
func TestHelmEverySetting(t *testing.T) {
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/helm/jobwait/values.yaml"), &values))
	args := []string{
		"--set", "redis.existingSecret=s", "--set", "redis.existingSecretPasswordKey=p",
		"--set-string", "redis.url=rediss://:$(REDIS_PASSWORD)@redis:6380/0", "--set", "redis.tls.existingSecret=t",
		"--set", "authSecret.existingSecret=a",
	}
	for key := range values.Config {
		v := "1"
		switch key {
		case "notify":
			v = "poll"
		case "subscribe":
			v = "keys"
		case "logLevel":
			v = "debug"
		}
		args = append(args, "--set-string", "config."+key+"="+v)
	}
	r := render(t, args...)
	set := map[string]bool{}
	for _, e := range r.container(t).Env {
		set[e.Name] = true
	}
	settings := readmeSettings(t)
	require.Contains(t, settings, "JOBWAIT_WAIT_BUDGET")
	for name := range settings {
		// The tokens' secret is mounted as a file (JOBWAIT_AUTH_SECRET_FILE),
		// never put in the pod's environment.
		assert.True(t, set[name] || name == "JOBWAIT_AUTH_SECRET", "%s cannot be set through the chart", name)
	}
	for name := range set {
		assert.True(t, settings[name] || name == "GOMEMLIMIT" || name == "REDIS_PASSWORD", "the chart sets %s, which is no jobwait setting", name)
	}
}

// readmeSettings are the environment variables of README's settings table.
func readmeSettings(t *testing.T) map[string]bool {
	t.Helper()
	_, table, ok := strings.Cut(string(readFile(t, "README.md")), "\n## Settings\n")
	require.True(t, ok, "README has a Settings section")
	table, _, _ = strings.Cut(table, "\n## ")
	env := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 4 {
			continue
		}
		if m := firstCode.FindStringSubmatch(strings.TrimSpace(cells[1])); m != nil {
			env[m[1]] = true
		}
	}
	return env
}

// checkRelease checks what every rendering must keep.
func checkRelease(t *testing.T, r release, want expect) {
	t.Helper()
	d := r.deployment
	require.NotNil(t, d, "Deployment")
	require.NotNil(t, r.service, "Service")
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)
	c := r.container(t)

	t.Run("selectors", func(t *testing.T) {
		assert.True(t, selects(t, d.Spec.Selector, podLabels), "the Deployment's selector does not select its pods")
		assert.True(t, labels.SelectorFromSet(r.service.Spec.Selector).Matches(podLabels), "the Service does not select the pods")
		require.NotNil(t, r.pdb, "PodDisruptionBudget")
		assert.True(t, selects(t, r.pdb.Spec.Selector, podLabels), "the PodDisruptionBudget does not select the pods")
		other := labels.Set{}
		for k, v := range podLabels {
			other[k] = v
		}
		other["app.kubernetes.io/instance"] = "another-release"
		assert.False(t, selects(t, r.pdb.Spec.Selector, other), "the PodDisruptionBudget selects another release's pods")
		assert.True(t, (r.pdb.Spec.MaxUnavailable == nil) != (r.pdb.Spec.MinAvailable == nil), "one of maxUnavailable and minAvailable")
		require.NotNil(t, r.pdb.Spec.UnhealthyPodEvictionPolicy)
		assert.Equal(t, "AlwaysAllow", string(*r.pdb.Spec.UnhealthyPodEvictionPolicy), "a Redis outage (every replica unready) must not block drains")
	})

	t.Run("image", func(t *testing.T) {
		assert.True(t, strings.HasSuffix(c.Image, ":"+chartAppVersion(t)), "image %s: the tag is the chart's appVersion by default", c.Image)
	})

	t.Run("port and probes", func(t *testing.T) {
		port := containerPort(t, c, "http")
		assert.Equal(t, fmt.Sprintf(":%d", port), r.value(t, "JOBWAIT_ADDR"), "jobwait listens on the container port")
		probes := []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"startup", c.StartupProbe, "/healthz"}}
		for _, p := range probes {
			require.NotNil(t, p.probe, p.name)
			require.NotNil(t, p.probe.HTTPGet, "%s probe is an HTTP GET", p.name)
			assert.Equal(t, p.path, p.probe.HTTPGet.Path, "%s probe", p.name)
			assert.Equal(t, intstr.FromString("http"), p.probe.HTTPGet.Port, "%s probe's port", p.name)
			assert.GreaterOrEqual(t, p.probe.TimeoutSeconds, int32(1), "%s probe's timeout", p.name)
		}
		ready := window(c.ReadinessProbe)
		assert.LessOrEqual(t, ready, 5*time.Second, "readiness flips within seconds of jobwait seeing a Redis fault (it sees one within 3 s)")
		assert.GreaterOrEqual(t, window(c.LivenessProbe), 3*ready, "liveness is far slower to act than readiness")
		assert.GreaterOrEqual(t, window(c.StartupProbe), 10*time.Second, "a start gets time")
	})

	t.Run("shutdown", func(t *testing.T) {
		require.NotNil(t, c.Lifecycle, "lifecycle")
		require.NotNil(t, c.Lifecycle.PreStop, "preStop")
		require.NotNil(t, c.Lifecycle.PreStop.Sleep, "preStop sleeps in the kubelet: the image has no shell")
		assert.Nil(t, c.Lifecycle.PreStop.Exec, "the image has no shell to exec in")
		preStop := c.Lifecycle.PreStop.Sleep.Seconds
		assert.Positive(t, preStop)
		grace := pod.Spec.TerminationGracePeriodSeconds
		require.NotNil(t, grace, "terminationGracePeriodSeconds")
		budget := envBudget(t, r.value(t, "JOBWAIT_WAIT_BUDGET"))
		assert.Greater(t, time.Duration(*grace)*time.Second, budget, "grace above the wait budget")
		assert.GreaterOrEqual(t, *grace, preStop+jobwaitShutdownSeconds(t), "grace covers the preStop sleep and jobwait's shutdown")
	})

	t.Run("security", func(t *testing.T) {
		uid, gid := imageUser(t)
		sc := pod.Spec.SecurityContext
		require.NotNil(t, sc)
		assert.Equal(t, ptr(true), sc.RunAsNonRoot)
		assert.Equal(t, &uid, sc.RunAsUser, "the image's user")
		assert.Equal(t, &gid, sc.RunAsGroup, "the image's group")
		csc := c.SecurityContext
		require.NotNil(t, csc)
		assert.Equal(t, ptr(false), csc.AllowPrivilegeEscalation)
		assert.Equal(t, ptr(true), csc.ReadOnlyRootFilesystem)
		assert.NotEqual(t, ptr(true), csc.Privileged)
		require.NotNil(t, csc.Capabilities)
		assert.Equal(t, []corev1.Capability{"ALL"}, csc.Capabilities.Drop)
		assert.Empty(t, csc.Capabilities.Add)
		assert.Equal(t, ptr(false), pod.Spec.AutomountServiceAccountToken, "jobwait calls no Kubernetes API")
		if r.serviceAccount != nil {
			assert.Equal(t, r.serviceAccount.Name, pod.Spec.ServiceAccountName)
		}
	})

	t.Run("service", func(t *testing.T) {
		require.Len(t, r.service.Spec.Ports, 1)
		assert.Equal(t, intstr.FromString("http"), r.service.Spec.Ports[0].TargetPort)
	})

	t.Run("autoscaler", func(t *testing.T) {
		if !want.hpa {
			assert.Nil(t, r.hpa)
			assert.NotNil(t, d.Spec.Replicas)
			return
		}
		require.NotNil(t, r.hpa)
		ref := r.hpa.Spec.ScaleTargetRef
		assert.Equal(t, "apps/v1", ref.APIVersion)
		assert.Equal(t, "Deployment", ref.Kind)
		assert.Equal(t, d.Name, ref.Name, "the autoscaler scales this Deployment")
		require.NotNil(t, r.hpa.Spec.MinReplicas)
		assert.GreaterOrEqual(t, *r.hpa.Spec.MinReplicas, int32(1))
		assert.LessOrEqual(t, *r.hpa.Spec.MinReplicas, r.hpa.Spec.MaxReplicas)
		assert.Nil(t, d.Spec.Replicas, "replicas left to the autoscaler")
		require.NotEmpty(t, r.hpa.Spec.Metrics)
		for _, m := range r.hpa.Spec.Metrics {
			switch {
			case m.Resource != nil:
				assert.False(t, c.Resources.Requests.Cpu().IsZero(), "CPU utilization needs a CPU request")
			case m.Pods != nil:
				waiters, _ := strconv.ParseInt(r.value(t, "JOBWAIT_MAX_WAITERS"), 10, 64)
				assert.LessOrEqual(t, m.Pods.Target.AverageValue.Value(), waiters, "a target of held waits above the cap is never reached")
			}
		}
	})

	t.Run("service monitor", func(t *testing.T) {
		if !want.serviceMonitor {
			assert.Nil(t, r.serviceMonitor)
			return
		}
		sm := r.serviceMonitor
		require.NotNil(t, sm)
		assert.True(t, selects(t, &sm.Spec.Selector, labels.Set(r.service.Labels)), "the ServiceMonitor does not select the Service")
		assert.Equal(t, []string{"jobs"}, sm.Spec.NamespaceSelector.MatchNames)
		require.Len(t, sm.Spec.Endpoints, 1)
		assert.Equal(t, r.service.Spec.Ports[0].Name, sm.Spec.Endpoints[0].Port, "scraped on the Service's port")
		assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	})

	t.Run("secrets", func(t *testing.T) {
		checkSecretRefs(t, r, want.external)
	})

	t.Run("environment", func(t *testing.T) {
		seen := map[string]bool{}
		for _, e := range c.Env {
			assert.False(t, seen[e.Name], "%s set twice", e.Name)
			for _, ref := range varRef.FindAllStringSubmatch(e.Value, -1) {
				assert.True(t, seen[ref[1]], "%s names $(%s) before it is set: Kubernetes would leave it as it is", e.Name, ref[1])
			}
			seen[e.Name] = true
		}
		checkFiles(t, r)
	})

	t.Run("sizing", func(t *testing.T) {
		checkSizing(t, r)
	})
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// selects reports whether a label selector selects set.
func selects(t *testing.T, s *metav1.LabelSelector, set labels.Set) bool {
	t.Helper()
	require.NotNil(t, s, "selector")
	sel, err := metav1.LabelSelectorAsSelector(s)
	require.NoError(t, err)
	return !sel.Empty() && sel.Matches(set)
}

// window is how long a probe takes to act on a fault: its failures in a
// row, a period apart.
func window(p *corev1.Probe) time.Duration {
	return time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("the container has no port named %s", name)
	return 0
}

// checkSecretRefs: every Secret the pod reads (environment variables and
// volumes) is one the chart makes, holding the key read, or one of want;
// and every Secret the chart makes is read.
func checkSecretRefs(t *testing.T, r release, want map[string][]string) {
	t.Helper()
	read := map[string][]string{}
	for _, e := range r.container(t).Env {
		if e.ValueFrom == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		require.NotNil(t, ref, "%s: only Secrets are read (the test's kubelet knows no other source)", e.Name)
		assert.Nil(t, ref.Optional, "%s: a missing Secret must stop the pod, not start jobwait without it", e.Name)
		read[ref.Name] = append(read[ref.Name], ref.Key)
	}
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		require.NotNil(t, v.Secret, "volume %s: only Secrets are mounted", v.Name)
		require.NotEmpty(t, v.Secret.Items, "volume %s: the files read are listed", v.Name)
		for _, it := range v.Secret.Items {
			read[v.Secret.SecretName] = append(read[v.Secret.SecretName], it.Key)
		}
	}
	external := map[string][]string{}
	for name, keys := range read {
		s, ours := r.secrets[name]
		if !ours {
			external[name] = keys
			continue
		}
		for _, k := range keys {
			_, inString := s.StringData[k]
			_, inData := s.Data[k]
			assert.True(t, inString || inData, "the chart's Secret %s has no key %s", name, k)
		}
	}
	for name := range r.secrets {
		assert.Contains(t, read, name, "the chart makes Secret %s and nothing reads it", name)
	}
	for name, keys := range external {
		slices.Sort(keys)
		external[name] = slices.Compact(keys)
	}
	for name, keys := range want {
		want[name] = slices.Sorted(slices.Values(keys))
	}
	if want == nil {
		want = map[string][]string{}
	}
	assert.Equal(t, want, external, "Secrets read that the chart does not make")
}

// checkFiles: every environment variable naming a file under a mounted
// volume names a file that volume has.
func checkFiles(t *testing.T, r release) {
	t.Helper()
	c := r.container(t)
	files := map[string]bool{}
	for _, m := range c.VolumeMounts {
		assert.True(t, m.ReadOnly, "mount %s is read-only", m.MountPath)
		for _, v := range r.deployment.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				for _, it := range v.Secret.Items {
					files[m.MountPath+"/"+it.Path] = true
				}
			}
		}
	}
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Value, "/") {
			continue
		}
		assert.True(t, files[e.Value], "%s=%s: no mounted volume has that file (mounted: %v)", e.Name, e.Value, files)
	}
}

// checkSizing: the caps and GOMEMLIMIT agree with the memory limit and
// each other, by the per-connection costs the documents give.
func checkSizing(t *testing.T, r release) {
	t.Helper()
	conns, err := strconv.ParseInt(r.value(t, "JOBWAIT_MAX_CONNS"), 10, 64)
	require.NoError(t, err, "JOBWAIT_MAX_CONNS is set")
	waiters, err := strconv.ParseInt(r.value(t, "JOBWAIT_MAX_WAITERS"), 10, 64)
	require.NoError(t, err, "JOBWAIT_MAX_WAITERS is set")
	assert.LessOrEqual(t, waiters, conns*7/8, "held waits leave an eighth of the connections to probes, scrapes and short polls")
	c := r.container(t)
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return
	}
	if req, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		assert.True(t, req.Equal(limit), "memory request %s = limit %s", req.String(), limit.String())
	}
	cost := memoryCosts(t)
	worst := chartOwnMemory + conns*cost.conn
	assert.LessOrEqual(t, worst, limit.Value()*8/10,
		"%d connections at %d B each and jobwait's own %d B fill more than 80%% of the limit %s", conns, cost.conn, chartOwnMemory, limit.String())
	assert.LessOrEqual(t, chartOwnMemory+waiters*cost.waiter, limit.Value()*8/10)
	soft, err := resource.ParseQuantity(strings.TrimSuffix(r.value(t, "GOMEMLIMIT"), "B"))
	require.NoError(t, err, "GOMEMLIMIT")
	assert.Less(t, soft.Value(), limit.Value(), "GOMEMLIMIT under the limit")
	assert.Greater(t, soft.Value(), worst, "GOMEMLIMIT above what the caps let jobwait hold")
}

// chartOwnMemory is what the chart allows for jobwait itself, beside its
// connections (TestHelmPodRunsJobwait measures it at rest).
const chartOwnMemory = 32 << 20

// costs are the measured bytes of memory per held wait and per other open
// connection, the upper ends of the ranges the documents give.
type costs struct{ waiter, conn int64 }

var (
	waiterCost = regexp.MustCompile(`([\d.]+) – ([\d.]+) KiB per held\s+waiter`)
	connCost   = regexp.MustCompile(`kept-alive\s+connection\s+costs\s+([\d.]+) – ([\d.]+) KiB`)
)

// memoryCosts reads the costs from docs/production.md and BENCHMARKS.md,
// so that a new measurement that raises them fails the chart's sizing
// until its figures follow.
func memoryCosts(t *testing.T) costs {
	t.Helper()
	kib := func(file string, re *regexp.Regexp) int64 {
		m := re.FindStringSubmatch(string(readFile(t, file)))
		require.NotNil(t, m, "%s gives %s", file, re)
		f, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		return int64(f * 1024)
	}
	return costs{waiter: kib("docs/production.md", waiterCost), conn: kib("BENCHMARKS.md", connCost)}
}

// envBudget reads JOBWAIT_WAIT_BUDGET as jobwait does: whole seconds or a
// Go duration; empty is jobwait's default.
func envBudget(t *testing.T, v string) time.Duration {
	t.Helper()
	if v == "" {
		return 30 * time.Second
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "JOBWAIT_WAIT_BUDGET=%q", v)
	return d
}

var shutdownGrace = regexp.MustCompile(`(?m)^const shutdownGrace = (\d+) \* time\.Second$`)

// jobwaitShutdownSeconds is how long jobwait takes at most to shut down
// after SIGTERM (cmd/jobwait's shutdownGrace).
func jobwaitShutdownSeconds(t *testing.T) int64 {
	t.Helper()
	m := shutdownGrace.FindStringSubmatch(string(readFile(t, "cmd/jobwait/main.go")))
	require.NotNil(t, m, "cmd/jobwait/main.go: %s", shutdownGrace)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

var dockerUser = regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`)

// imageUser is the uid and gid the Dockerfile's image runs as.
func imageUser(t *testing.T) (int64, int64) {
	t.Helper()
	m := dockerUser.FindStringSubmatch(string(readFile(t, "Dockerfile")))
	require.NotNil(t, m, "the Dockerfile names a numeric USER")
	uid, _ := strconv.ParseInt(m[1], 10, 64)
	gid, _ := strconv.ParseInt(m[2], 10, 64)
	return uid, gid
}

// chartAppVersion is Chart.yaml's appVersion.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	require.NoError(t, yaml.Unmarshal(readFile(t, "deploy/helm/jobwait/Chart.yaml"), &chart))
	require.NotEmpty(t, chart.AppVersion)
	return chart.AppVersion
}

func ptr[T any](v T) *T { return &v }
