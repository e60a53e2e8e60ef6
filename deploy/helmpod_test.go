package deploy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// TestHelmPodRunsJobwait plays the kubelet: it starts the real jobwait as
// the chart's pod says (its environment, the Secrets' keys and files where
// it mounts them) and asks the probes' paths what Kubernetes would. It
// fails if a setting the chart writes is one jobwait refuses, a Secret key
// or file is not where the environment says, or a probe does not answer.
func TestHelmPodRunsJobwait(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		r := render(t)
		p, _ := runPod(t, r, nil)
		checkProbes(t, p, r)
	})

	t.Run("password from a secret, put in the url by Kubernetes", func(t *testing.T) {
		const password = "s3cret-Pa55"
		srv := redistest.Start(t, "--requirepass", password)
		r := render(t, "--set", "redis.existingSecret=redis", "--set", "redis.existingSecretPasswordKey=redis-password",
			"--set-string", "redis.url=redis://:$(REDIS_PASSWORD)@"+srv.Addr()+"/0", "--set", "replicaCount=3")
		p, _ := runPod(t, r, map[string]map[string]string{"redis": {"redis-password": password}})
		checkProbes(t, p, r)
	})

	// Production: the URL from a Secret, mutual TLS with the files from
	// another; then SIGTERM, as the kubelet sends it after the preStop
	// sleep: a held long poll is answered and jobwait exits within the
	// rest of the grace.
	t.Run("production", func(t *testing.T) {
		certs := redistest.NewTLS(t)
		srv, redisURL := redistest.StartTLS(t, certs, true)
		file := func(path string) string {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			return string(b)
		}
		r := render(t, "-f", productionValues)
		p, pod := runPod(t, r, map[string]map[string]string{
			"jobwait-redis":     {"redis-url": redisURL},
			"jobwait-redis-tls": {"ca.crt": file(certs.CA), "tls.crt": file(certs.ClientCert), "tls.key": file(certs.ClientKey)},
		})
		checkProbes(t, p, r)
		assert.Contains(t, pod["REDIS_URL"], "rediss://")

		job := storetest.NewProducer(srv.Client(t), "helm").Create(t)
		type answer struct {
			code int
			body string
			err  error
		}
		answered := make(chan answer, 1)
		go func() {
			c := http.Client{Timeout: time.Minute}
			resp, err := c.Get(p.URL() + "/api/events/jobs/" + job.JobID + "/status?wait=30")
			if err != nil {
				answered <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answered <- answer{resp.StatusCode, string(b), err}
		}()
		streamtest.Eventually(t, 10*time.Second, "the long poll held", func() bool {
			return servertest.Metric(p.URL(), "jobwait_waiters") == 1
		})

		c := r.container(t)
		rest := time.Duration(*r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds-c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		require.NoError(t, p.Signal(syscall.SIGTERM))
		select {
		case a := <-answered:
			require.NoError(t, a.err)
			assert.Equal(t, http.StatusOK, a.code)
			assert.Contains(t, a.body, `"status":"PENDING"`, "handed over with the job's state")
		case <-time.After(rest):
			t.Fatalf("the held long poll was not answered within the grace left after preStop (%v)", rest)
		}
		assert.NoError(t, p.Wait(rest), "jobwait exits 0 within the grace left after preStop (%v)", rest)
	})
}

// runPod starts jobwait with the environment and files the rendered pod
// gives it: secrets are the Secrets made outside the chart, by name and
// key. It returns the process and its environment.
func runPod(t *testing.T, r release, secrets map[string]map[string]string) (*servertest.Process, map[string]string) {
	t.Helper()
	all := map[string]map[string]string{}
	for name, s := range r.secrets {
		all[name] = s.StringData
	}
	for name, s := range secrets {
		all[name] = s
	}
	root := t.TempDir()
	c := r.container(t)
	mounts := map[string]string{} // mount path in the container -> where it is here
	for _, m := range c.VolumeMounts {
		for _, v := range r.deployment.Spec.Template.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			require.NotNil(t, v.Secret, "volume %s", v.Name)
			data, ok := all[v.Secret.SecretName]
			require.True(t, ok, "no Secret %s to mount", v.Secret.SecretName)
			dir := filepath.Join(root, m.MountPath)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for _, it := range v.Secret.Items {
				b, ok := data[it.Key]
				require.True(t, ok, "Secret %s has no key %s: the kubelet could not mount it", v.Secret.SecretName, it.Key)
				require.NoError(t, os.WriteFile(filepath.Join(dir, it.Path), []byte(b), 0o400))
			}
			mounts[m.MountPath] = dir
		}
	}
	env := map[string]string{}
	var list []string
	for _, e := range c.Env {
		v := expandEnv(e.Value, env)
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			require.NotNil(t, ref, "%s", e.Name)
			b, ok := all[ref.Name][ref.Key]
			require.True(t, ok, "%s: Secret %s has no key %s: the pod would not start", e.Name, ref.Name, ref.Key)
			v = b
		}
		env[e.Name] = v
		for in, here := range mounts {
			if strings.HasPrefix(v, in+"/") {
				v = here + strings.TrimPrefix(v, in)
			}
		}
		if e.Name != "JOBWAIT_ADDR" { // servertest listens on a free port: checkRelease holds the address to the container's
			list = append(list, e.Name+"="+v)
		}
	}
	return servertest.Start(t, list...), env
}

// expandEnv expands $(NAME) references to variables set before, as
// Kubernetes does in a container's env values: $$ is a literal $, and a
// reference to a name not set is left as it is.
func expandEnv(v string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case v[i+1] == '$':
			b.WriteByte('$')
			i++
		case v[i+1] == '(':
			end := strings.IndexByte(v[i:], ')')
			if end < 0 {
				b.WriteString(v[i:])
				return b.String()
			}
			name := v[i+2 : i+end]
			if val, ok := env[name]; ok {
				b.WriteString(val)
			} else {
				b.WriteString(v[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"PW": "secret"}
	for in, want := range map[string]string{
		"redis://:$(PW)@host":    "redis://:secret@host",
		"$(NOPE) stays":          "$(NOPE) stays",
		"$$(PW) is escaped":      "$(PW) is escaped",
		"a lone $ and $(PW":      "a lone $ and $(PW",
		"$(PW)$(PW)":             "secretsecret",
		"no references at all $": "no references at all $",
	} {
		assert.Equal(t, want, expandEnv(in, env), "expandEnv(%q)", in)
	}
}

// checkProbes asks each of the pod's probes, as the kubelet would (on the
// container's port, which servertest has moved), and reads the caps jobwait
// took from the chart's environment on /metrics.
func checkProbes(t *testing.T, p *servertest.Process, r release) {
	t.Helper()
	c := r.container(t)
	get := func(path string) int {
		resp, err := http.Get(p.URL() + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, probe := range map[string]string{"readiness": c.ReadinessProbe.HTTPGet.Path, "liveness": c.LivenessProbe.HTTPGet.Path, "startup": c.StartupProbe.HTTPGet.Path} {
		streamtest.EventuallyEqual(t, 10*time.Second, fmt.Sprintf("%s probe GET %s", name, probe), http.StatusOK, func() int { return get(probe) })
	}
	m, err := servertest.ReadMetrics(p.URL())
	require.NoError(t, err)
	for metric, env := range map[string]string{"jobwait_connections_max": "JOBWAIT_MAX_CONNS", "jobwait_max_waiters": "JOBWAIT_MAX_WAITERS"} {
		want, err := strconv.ParseFloat(r.value(t, env), 64)
		require.NoError(t, err, env)
		assert.Equal(t, want, m.Sum(metric), "%s: jobwait runs with the chart's %s", metric, env)
	}
	rss := m.Sum("process_resident_memory_bytes")
	assert.Positive(t, rss)
	assert.LessOrEqual(t, rss, float64(chartOwnMemory), "jobwait at rest fits the memory the chart allows for it beside its connections")
}
