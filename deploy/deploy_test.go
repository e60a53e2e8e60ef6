package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot is where Dockerfile and docker-compose.yml are: tests run in
// the package directory.
const repoRoot = ".."

// scaleProfile is the compose profile of the cluster stack.
const scaleProfile = "scale"

// keyspaceFlags are the notify-keyspace-events classes jobwait needs.
const keyspaceFlags = "K$hgx"

// healthcheckCmd is how compose checks jobwait: distroless has no shell.
var healthcheckCmd = []string{"CMD", "/jobwait", "-healthcheck"}

// compose is the part of a compose file these tests read.
type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       *build       `yaml:"build"`
	Command     stringList   `yaml:"command"`
	Environment stringMap    `yaml:"environment"`
	Profiles    []string     `yaml:"profiles"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
	Volumes     []string     `yaml:"volumes"`
	Ports       []string     `yaml:"ports"`
	Restart     string       `yaml:"restart"`
}

type healthcheck struct {
	Test stringList `yaml:"test"`
}

// build is compose's `build:`, a path or a mapping.
type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

// stringList is a command or test: a list, or one string split on spaces.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(l))
}

// stringMap is `environment:`, a mapping or a list of KEY=value.
type stringMap map[string]string

func (m *stringMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		return n.Decode((*map[string]string)(m))
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*m = stringMap{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		(*m)[k] = v
	}
	return nil
}

// dependsOn maps a dependency to its condition; the list form means
// service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*d)[k] = v.Condition
	}
	return nil
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	require.NoError(t, err, "read %s", rel)
	return data
}

// loadCompose reads docker-compose.yml and applies compose's `$$` escape to
// every string, after checking there is no other `$` (no variables are used,
// so a lone `$` can only be a mistake that compose would turn into nothing).
func loadCompose(t *testing.T) compose {
	t.Helper()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(readFile(t, "docker-compose.yml"), &root))
	for _, err := range unescapeDollars(&root) {
		t.Error(err)
	}
	var c compose
	require.NoError(t, root.Decode(&c), "decode docker-compose.yml")
	require.NotEmpty(t, c.Services, "docker-compose.yml has no services")
	return c
}

var loneDollar = regexp.MustCompile(`\$\$|\$`)

// unescapeDollars rewrites `$$` to `$` in every scalar under n, in place,
// and reports every `$` that compose would read as a variable.
func unescapeDollars(n *yaml.Node) []error {
	var errs []error
	seen := map[*yaml.Node]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if seen[n] {
			return // an anchor reached again through an alias
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode {
			n.Value = loneDollar.ReplaceAllStringFunc(n.Value, func(m string) string {
				if m == "$" {
					errs = append(errs, fmt.Errorf("docker-compose.yml line %d: %q has a lone $; compose would interpolate it (write $$ for a literal $)", n.Line, n.Value))
				}
				return "$"
			})
		}
		if n.Alias != nil {
			walk(n.Alias)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return errs
}

func TestUnescapeDollars(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"K$$hgx", "K$hgx", false},
		{"plain", "plain", false},
		{"$$(seq 1 3) $$n", "$(seq 1 3) $n", false},
		{"K$hgx", "K$hgx", true},
		{"${VAR}", "${VAR}", true},
		{"$$$", "$$", true},
	}
	for _, tt := range tests {
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: tt.in}
		errs := unescapeDollars(n)
		assert.Equal(t, tt.want, n.Value, "unescapeDollars(%q)", tt.in)
		assert.Equal(t, tt.wantErr, len(errs) > 0, "unescapeDollars(%q) errors = %v; want error %v", tt.in, errs, tt.wantErr)
	}
}

// inProfile reports whether s is started by `--profile p` (and, for p == "",
// by a plain `docker compose up`).
func (s service) inProfile(p string) bool {
	if p == "" {
		return len(s.Profiles) == 0
	}
	return slices.Contains(s.Profiles, p)
}

// arg returns the value after flag in s's command.
func (s service) arg(flag string) (string, bool) {
	i := slices.Index(s.Command, flag)
	if i < 0 || i+1 >= len(s.Command) {
		return "", false
	}
	return s.Command[i+1], true
}

func (s service) isRedisServer() bool {
	return strings.HasPrefix(s.Image, "redis:") && len(s.Command) > 0 && s.Command[0] == "redis-server"
}

func (s service) isClusterNode() bool {
	v, ok := s.arg("--cluster-enabled")
	return s.isRedisServer() && ok && v == "yes"
}

func (s service) isJobwait() bool {
	return s.Build != nil
}

func (s service) isNginx() bool {
	return strings.HasPrefix(s.Image, "nginx")
}

func names(c compose, profile string, is func(service) bool) []string {
	var out []string
	for name, s := range c.Services {
		if s.inProfile(profile) && is(s) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// notifyHas reports whether a notify-keyspace-events value enables class c;
// A is the alias for g$lshzxet.
func notifyHas(flags string, c rune) bool {
	return strings.ContainsRune(flags, c) || (strings.ContainsRune(flags, 'A') && strings.ContainsRune("g$lshzxet", c))
}

func assertKeyspaceNotify(t *testing.T, name string, s service) {
	t.Helper()
	flags, ok := s.arg("--notify-keyspace-events")
	if !assert.True(t, ok, "%s: command %q does not set --notify-keyspace-events", name, s.Command) {
		return
	}
	for _, c := range keyspaceFlags {
		assert.True(t, notifyHas(flags, c), "%s: notify-keyspace-events %q lacks %q (jobwait needs %s)", name, flags, c, keyspaceFlags)
	}
}

func assertHealthcheck(t *testing.T, name string, s service) {
	t.Helper()
	if assert.NotNil(t, s.Healthcheck, "%s has no healthcheck", name) {
		assert.NotEmpty(t, s.Healthcheck.Test, "%s: empty healthcheck test", name)
	}
}

func TestComposeDefaultStack(t *testing.T) {
	c := loadCompose(t)

	assert.Equal(t, []string{"jobwait", "redis"}, names(c, "", func(service) bool { return true }),
		"a plain `docker compose up` should start exactly redis and jobwait")

	redis, ok := c.Services["redis"]
	require.True(t, ok, "no service redis")
	assert.True(t, strings.HasPrefix(redis.Image, "redis:7"), "redis image = %q; want redis:7…", redis.Image)
	assertKeyspaceNotify(t, "redis", redis)
	require.NotNil(t, redis.Healthcheck, "redis has no healthcheck")
	assert.Equal(t, stringList{"CMD", "redis-cli", "ping"}, redis.Healthcheck.Test)

	jw, ok := c.Services["jobwait"]
	require.True(t, ok, "no service jobwait")
	require.NotNil(t, jw.Build, "jobwait is not built from the Dockerfile")
	u, err := url.Parse(jw.Environment["REDIS_URL"])
	require.NoError(t, err, "jobwait REDIS_URL")
	assert.Equal(t, "redis", u.Scheme, "REDIS_URL %q", u)
	assert.Equal(t, "redis", u.Hostname(), "REDIS_URL %q does not name the redis service", u)
	assert.Equal(t, "6379", u.Port(), "REDIS_URL %q", u)
	assert.Equal(t, "true", jw.Environment["JOBWAIT_DEMO"], "JOBWAIT_DEMO")
	assert.Contains(t, jw.Ports, "8080:8080")
	assert.Equal(t, "service_healthy", jw.DependsOn["redis"], "jobwait should wait for a healthy redis")
	require.NotNil(t, jw.Healthcheck, "jobwait has no healthcheck")
	assert.Equal(t, stringList(healthcheckCmd), jw.Healthcheck.Test)
}

func TestComposeScaleProfile(t *testing.T) {
	c := loadCompose(t)

	for name, s := range c.Services {
		if !s.inProfile("") {
			assert.Contains(t, [][]string{{scaleProfile}, {monitoringProfile}}, s.Profiles, "%s: unknown profiles", name)
		}
	}

	nodes := names(c, scaleProfile, service.isClusterNode)
	require.Len(t, nodes, 6, "scale profile cluster nodes %v; want 3 masters + 3 replicas", nodes)
	for _, n := range nodes {
		s := c.Services[n]
		assertKeyspaceNotify(t, n, s)
		assertHealthcheck(t, n, s)
		port, ok := s.arg("--port")
		assert.True(t, !ok || port == "6379", "%s listens on %s; the init service and REDIS_URL assume 6379", n, port)
	}

	// The one-shot init service joins exactly those nodes.
	var inits []string
	for name, s := range c.Services {
		if s.inProfile(scaleProfile) && strings.Contains(strings.Join(s.Command, " "), "--cluster create") {
			inits = append(inits, name)
		}
	}
	require.Len(t, inits, 1, "scale profile needs one `redis-cli --cluster create` service")
	initName := inits[0]
	init := c.Services[initName]
	script := strings.Join(init.Command, " ")
	for _, flag := range []string{"--cluster-replicas 1", "--cluster-yes"} {
		assert.Contains(t, script, flag, "%s", initName)
	}
	for _, n := range nodes {
		assert.Contains(t, script, n+":6379", "%s does not join %s", initName, n)
		assert.Equal(t, "service_healthy", init.DependsOn[n], "%s should wait for a healthy %s", initName, n)
	}
	assert.Contains(t, []string{"", "no"}, init.Restart, "%s is one-shot: it must not restart", initName)
	if len(init.Command) == 3 && init.Command[0] == "sh" && init.Command[1] == "-c" {
		out, err := exec.Command("sh", "-n", "-c", init.Command[2]).CombinedOutput()
		assert.NoError(t, err, "%s: shell syntax: %s", initName, out)
	}

	replicas := names(c, scaleProfile, service.isJobwait)
	require.Len(t, replicas, 3, "scale profile jobwait replicas %v; want 3", replicas)
	for _, r := range replicas {
		s := c.Services[r]
		raw := s.Environment["REDIS_URL"]
		u, err := url.Parse(raw)
		require.NoError(t, err, "%s REDIS_URL", r)
		seeds := append([]string{u.Host}, u.Query()["addr"]...)
		assert.GreaterOrEqual(t, len(seeds), 3, "%s REDIS_URL %q: give several seed nodes (?addr=)", r, raw)
		for _, seed := range seeds {
			host, port, ok := strings.Cut(seed, ":")
			assert.True(t, ok && port == "6379" && slices.Contains(nodes, host), "%s REDIS_URL seed %q is not a cluster node", r, seed)
		}
		assert.Equal(t, "service_completed_successfully", s.DependsOn[initName], "%s should start after the cluster is created", r)
		require.NotNil(t, s.Healthcheck, "%s has no healthcheck", r)
		assert.Equal(t, stringList(healthcheckCmd), s.Healthcheck.Test, "%s healthcheck", r)
		assert.Empty(t, s.Ports, "%s: replicas are reached through nginx only", r)
	}

	proxies := names(c, scaleProfile, service.isNginx)
	require.Len(t, proxies, 1, "scale profile needs one nginx")
	nginx := c.Services[proxies[0]]
	assert.Contains(t, nginx.Volumes, "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro")
	assert.Contains(t, nginx.Volumes, "./deploy/tls:/etc/nginx/tls:ro", "the TLS server's certificate")
	for _, r := range replicas {
		assert.Equal(t, "service_healthy", nginx.DependsOn[r], "nginx resolves %s at start: it should wait for it", r)
	}
	assertHealthcheck(t, proxies[0], nginx)

	// nginx.conf proxies to exactly these replicas, on the port they listen on.
	var want []string
	for _, r := range replicas {
		want = append(want, r+":8080")
	}
	assert.Equal(t, want, upstreamServers(t, loadNginx(t)), "nginx.conf upstream servers vs compose replicas")

	// Host ports do not collide, so both stacks can run at once.
	seen := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			host := strings.Split(p, ":")[0]
			if other, dup := seen[host]; dup {
				t.Errorf("host port %s published by both %s and %s", host, other, name)
			}
			seen[host] = name
		}
	}
}

func TestComposeFilesExist(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Build != nil {
			ctx := filepath.Join(repoRoot, s.Build.Context)
			info, err := os.Stat(ctx)
			if assert.NoError(t, err, "%s build context", name) {
				assert.True(t, info.IsDir(), "%s build context %s is not a directory", name, ctx)
			}
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			assert.FileExists(t, filepath.Join(ctx, df), "%s dockerfile", name)
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok || !(strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/")) {
				continue // a named volume
			}
			_, err := os.Stat(filepath.Join(repoRoot, src))
			assert.NoError(t, err, "%s mounts %s", name, src)
		}
	}
}

// dockerfile is a Dockerfile as instructions, continuation lines joined,
// split into stages.
type dockerfile []stage

// stage is one FROM and what follows it.
type stage []instruction

type instruction struct {
	cmd  string // upper case
	args string
}

func loadDockerfile(t *testing.T) dockerfile {
	t.Helper()
	var (
		df      dockerfile
		pending string
	)
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "Dockerfile")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending == "") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			df = append(df, nil)
		}
		require.NotEmpty(t, df, "Dockerfile: %s before FROM", in.cmd)
		df[len(df)-1] = append(df[len(df)-1], in)
	}
	require.NoError(t, sc.Err())
	return df
}

// args returns the arguments of every cmd instruction of st, in order.
func (st stage) args(cmd string) []string {
	var out []string
	for _, in := range st {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// goRelease is the Go release go.mod's go line asks for ("1.26" of
// "go 1.26.0"), which must be its first version: a go line that names a
// later patch makes every older toolchain of the release download another.
func goRelease(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (1\.\d+)(\.\d+)?$`).FindStringSubmatch(string(readFile(t, "go.mod")))
	require.NotNil(t, m, "go.mod has no go line")
	assert.Contains(t, []string{"", ".0"}, m[2], "go.mod's go line is go %s%s; want go %s.0, which every Go %s toolchain satisfies", m[1], m[2], m[1], m[1])
	return m[1]
}

// TestGoVersionAgrees: the Go that README asks for is go.mod's.
func TestGoVersionAgrees(t *testing.T) {
	release := goRelease(t)
	m := regexp.MustCompile(`\(Go (1\.\d+)\b`).FindStringSubmatch(string(readFile(t, "README.md")))
	require.NotNil(t, m, "README says which Go it needs, as (Go 1.N")
	assert.Equal(t, release, m[1], "README's Go and go.mod's go line")
}

func TestDockerfile(t *testing.T) {
	df := loadDockerfile(t)
	require.GreaterOrEqual(t, len(df), 2, "Dockerfile should be multi-stage (build, then runtime)")
	build, runtime := df[0], df[len(df)-1]

	golang := "golang:" + goRelease(t) + " "
	assert.True(t, strings.HasPrefix(build.args("FROM")[0], golang), "build stage FROM %q; want %s", build.args("FROM")[0], golang)
	runs := strings.Join(build.args("RUN"), "\n")
	assert.Regexp(t, `CGO_ENABLED=0 go build .*\./cmd/jobwait`, runs, "build stage must build ./cmd/jobwait without cgo")
	assert.DirExists(t, filepath.Join(repoRoot, "cmd", "jobwait"), "the Dockerfile builds ./cmd/jobwait")
	// The context has no .git: the build names its version and revision
	// from build arguments, or -version says it does not know them.
	assert.Subset(t, build.args("ARG"), []string{"VERSION=", "REVISION="}, "build arguments")
	assert.Regexp(t, `go build .*-ldflags="[^"]*-X main\.version=\$\{VERSION\} -X main\.revision=\$\{REVISION\}"`, runs)
	assert.Contains(t, strings.Split(string(readFile(t, ".dockerignore")), "\n"), ".git", "the context leaves .git out")

	users := runtime.args("USER")
	if assert.NotEmpty(t, users, "runtime stage sets no USER: it would run as root") {
		u := users[len(users)-1]
		assert.NotContains(t, []string{"root", "0", "0:0", "root:root"}, u, "runtime USER")
	}
	assert.Contains(t, runtime.args("EXPOSE"), "8080")
	assert.Contains(t, runtime.args("ENV"), "JOBWAIT_ADDR=:8080", "the healthcheck finds the listener through JOBWAIT_ADDR")

	// Compose's healthcheck runs /jobwait: the binary must be there.
	assert.Contains(t, strings.Join(runtime.args("COPY"), "\n"), " /jobwait", "runtime stage should copy the binary to /jobwait")
	assert.Equal(t, []string{`["/jobwait"]`}, runtime.args("ENTRYPOINT"))
	for _, hc := range runtime.args("HEALTHCHECK") {
		assert.Contains(t, hc, `CMD ["/jobwait", "-healthcheck"]`, "exec form: distroless has no shell")
	}
}
