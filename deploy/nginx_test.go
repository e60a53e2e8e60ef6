package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/deploy/nginxtest"
	"jobwait/server/sse"
	"jobwait/stream/streamtest"
)

// The timings nginx must outlast (SPEC.md §7 defaults).
const (
	waitBudget = 30 * time.Second
	heartbeat  = 15 * time.Second
)

const nginxConf = nginxtest.ConfPath

// directive is one nginx directive; a block directive has children.
type directive struct {
	name     string
	args     []string
	children []*directive
	block    bool
}

// parseNginx reads nginx's configuration syntax: words, quoted strings,
// `;`-terminated directives, `{}` blocks, `#` comments. It is enough for
// the checks here; `nginx -t` is the real judge.
func parseNginx(src string) (*directive, error) {
	root := &directive{name: "main", block: true}
	stack := []*directive{root}
	var words []string
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			words = append(words, src[i+1:j])
			i = j + 1
		case c == ';' || c == '{':
			if len(words) == 0 {
				return nil, fmt.Errorf("line %d: %q without a directive", line, c)
			}
			d := &directive{name: words[0], args: words[1:], block: c == '{'}
			top := stack[len(stack)-1]
			top.children = append(top.children, d)
			if d.block {
				stack = append(stack, d)
			}
			words = nil
			i++
		case c == '}':
			if len(words) != 0 || len(stack) == 1 {
				return nil, fmt.Errorf("line %d: unexpected }", line)
			}
			stack = stack[:len(stack)-1]
			i++
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n;{}\"'#", rune(src[j])) {
				j++
			}
			words = append(words, src[i:j])
			i = j
		}
	}
	if len(stack) != 1 || len(words) != 0 {
		return nil, fmt.Errorf("unexpected end of file")
	}
	return root, nil
}

// all returns d's children named name.
func (d *directive) all(name string) []*directive {
	var out []*directive
	for _, c := range d.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (d *directive) one(t *testing.T, name string) *directive {
	t.Helper()
	found := d.all(name)
	require.Len(t, found, 1, "nginx.conf: %s %v should hold one %s", d.name, d.args, name)
	return found[0]
}

// effective returns the arguments of the innermost name directive on the
// path from http to a location: nginx's inheritance for these directives.
func effective(path []*directive, name string) ([]string, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		if found := path[i].all(name); len(found) > 0 {
			return found[len(found)-1].args, true
		}
	}
	return nil, false
}

func loadNginx(t *testing.T) *directive {
	t.Helper()
	root, err := parseNginx(string(readFile(t, nginxConf)))
	require.NoError(t, err, "parse %s", nginxConf)
	return root
}

func upstreamServers(t *testing.T, root *directive) []string {
	t.Helper()
	up := root.one(t, "http").one(t, "upstream")
	var out []string
	for _, s := range up.all("server") {
		out = append(out, s.args[0])
	}
	return out
}

func TestParseNginx(t *testing.T) {
	root, err := parseNginx("a 1;\n# c\nb { c \"x y\"; d ''; }\n")
	require.NoError(t, err)
	require.Len(t, root.children, 2)
	b := root.children[1]
	assert.Equal(t, "b", b.name)
	assert.Equal(t, []string{"x y"}, b.children[0].args)
	assert.Equal(t, []string{""}, b.children[1].args)

	for _, bad := range []string{"a {", "a }", "}", "a \"x;", "a"} {
		_, err := parseNginx(bad)
		assert.Error(t, err, "parseNginx(%q)", bad)
	}
}

func TestNginxConfForWaits(t *testing.T) {
	root := loadNginx(t)
	http := root.one(t, "http")
	up := http.one(t, "upstream")
	require.Len(t, up.args, 1)
	if ka := up.all("keepalive"); assert.Len(t, ka, 1, "upstream should keep connections to the replicas alive") {
		assert.NotEqual(t, "0", ka[0].args[0])
	}

	servers := http.all("server")
	require.Len(t, servers, 2, "a plain HTTP/1.1 server and a TLS (HTTP/2) one")
	var tls bool
	for _, server := range servers {
		for _, l := range server.all("listen") {
			if slices.Contains(l.args, "ssl") {
				tls = true
				assert.Contains(t, l.args, "http2", "the TLS server speaks HTTP/2 to browsers")
				for _, name := range []string{"ssl_certificate", "ssl_certificate_key"} {
					assert.Len(t, server.all(name), 1, "the TLS server's %s", name)
				}
			}
		}
		checkServerForWaits(t, http, up, server)
	}
	assert.True(t, tls, "nginx.conf has no TLS (HTTP/2) server for browsers")
}

// checkServerForWaits checks what every location of a server that proxies
// to the replicas must say for waits to work.
func checkServerForWaits(t *testing.T, http, up, server *directive) {
	t.Helper()
	locations := server.all("location")
	require.NotEmpty(t, locations)
	var sse, many bool
	for _, loc := range locations {
		path := []*directive{http, server, loc}
		where := "location " + strings.Join(loc.args, " ")
		pass, ok := effective(path, "proxy_pass")
		if !ok {
			continue
		}
		assert.Equal(t, []string{"http://" + up.args[0]}, pass, "%s proxy_pass", where)
		want := map[string]string{
			"proxy_buffering":    "off",
			"proxy_cache":        "off",
			"proxy_http_version": "1.1",
			"gzip":               "off",
		}
		for name, v := range want {
			got, _ := effective(path, name)
			assert.Equal(t, []string{v}, got, "%s: %s", where, name)
		}

		var connection, xff bool
		for _, h := range effectiveAll(path, "proxy_set_header") {
			switch strings.ToLower(h[0]) {
			case "connection":
				connection = len(h) == 2 && h[1] == ""
			case "x-forwarded-for":
				xff = len(h) == 2 && h[1] == "$proxy_add_x_forwarded_for"
			}
		}
		assert.True(t, connection, `%s: proxy_set_header Connection "" (upstream keepalive needs it)`, where)
		assert.True(t, xff, "%s: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for", where)

		for _, name := range []string{"proxy_read_timeout", "proxy_send_timeout"} {
			got, ok := effective(path, name)
			if !assert.True(t, ok, "%s: %s unset (nginx default 60s is fine, but say it)", where, name) {
				continue
			}
			d, err := nginxDuration(got[0])
			require.NoError(t, err, "%s %s", name, got[0])
			assert.Greater(t, d, waitBudget, "%s: %s %s must exceed the wait budget", where, name, got[0])
			assert.Greater(t, d, heartbeat, "%s: %s %s must exceed the heartbeat", where, name, got[0])
		}

		for _, types := range effectiveAll(path, "gzip_types") {
			assert.NotContains(t, types, "text/event-stream", "%s: never compress SSE", where)
		}
		if len(loc.args) == 2 && (loc.args[0] == "~" || loc.args[0] == "~*") {
			re, err := regexp.Compile(loc.args[1])
			if assert.NoError(t, err, where) && re.MatchString("/api/events/jobs/abc/stream") {
				sse = true
				many = many || re.MatchString("/api/events/jobs/stream")
			}
		}
	}
	assert.True(t, sse, "nginx.conf has no location for /api/events/jobs/{jobId}/stream")
	assert.True(t, many, "the stream location does not cover the many-job /api/events/jobs/stream")
}

// effectiveAll returns the arguments of every name directive at the
// innermost level that has any (proxy_set_header is inherited as a set).
func effectiveAll(path []*directive, name string) [][]string {
	for i := len(path) - 1; i >= 0; i-- {
		if found := path[i].all(name); len(found) > 0 {
			var out [][]string
			for _, d := range found {
				out = append(out, d.args)
			}
			return out
		}
	}
	return nil
}

// nginxDuration reads nginx's time syntax for the units used here.
func nginxDuration(s string) (time.Duration, error) {
	if strings.TrimRight(s, "0123456789") == "" {
		s += "s" // nginx's default unit
	}
	return time.ParseDuration(s)
}

func TestNginxConfSyntax(t *testing.T) {
	bin := nginxtest.Binary(t)
	dir := t.TempDir()
	conf := nginxtest.Conf(t, dir, nginxtest.Options{Upstream: "127.0.0.1:8080", Listen: "127.0.0.1:8080", TLSListen: "127.0.0.1:8443"})
	out, err := exec.Command(bin, append(nginxtest.Args(dir, conf), "-t")...).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s", out)
	assert.Contains(t, string(out), "test is successful")
}

// upstreamSeen is what the fake replica saw of one request.
type upstreamSeen struct {
	proto, remote, xff, connection, lastEventID, acceptEncoding string
}

// TestNginxProxiesStreamUnbuffered runs the real nginx.conf in front of a
// fake replica and checks what a client of the scale stack relies on: an SSE
// event gets through while the stream is still open, uncompressed, with the
// request headers jobwait reads, over a kept-alive HTTP/1.1 connection.
func TestNginxProxiesStreamUnbuffered(t *testing.T) {

	var (
		mu      sync.Mutex
		seen    []upstreamSeen
		release = make(chan struct{})
	)
	replica := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, upstreamSeen{
			proto: r.Proto, remote: r.RemoteAddr, xff: r.Header.Get("X-Forwarded-For"),
			connection: r.Header.Get("Connection"), lastEventID: r.Header.Get("Last-Event-ID"),
			acceptEncoding: r.Header.Get("Accept-Encoding"),
		})
		mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/stream") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"jobId":"j1","status":"PENDING","message":"AI가 분석 중입니다"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprint(w, "retry: 2000\n\nid: 1\nevent: status\ndata: {\"jobId\":\"j1\",\"status\":\"PENDING\"}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 2\nevent: timeout\ndata: {}\n\n")
	}))
	t.Cleanup(replica.Close)
	t.Cleanup(func() { closeOnce(release) })

	addr, _ := nginxtest.Proxy(t, strings.TrimPrefix(replica.URL, "http://"))

	client := &http.Client{Timeout: 10 * time.Second}
	// A short answer first: its connection to the replica should be reused.
	resp, err := client.Get("http://" + addr + "/api/events/jobs/j1/status")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/events/jobs/j1/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Last-Event-ID", "7")
	// The Transport would otherwise decompress transparently and hide gzip.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "SSE must not be compressed")

	// The first event arrives while the replica still holds the stream open.
	events := make(chan string, 1)
	go func() {
		defer close(events)
		r := sse.NewReader(resp.Body)
		for {
			b, err := r.Block()
			if err != nil {
				return
			}
			events <- strings.Join(b.Lines, "\n")
		}
	}()
	for _, want := range []string{"retry: 2000", "id: 1\nevent: status"} {
		select {
		case got := <-events:
			assert.True(t, strings.HasPrefix(got, want), "event %q; want %q…", got, want)
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q through nginx while the stream is open: nginx is buffering", want)
		}
	}
	closeOnce(release)
	select {
	case got := <-events:
		assert.True(t, strings.HasPrefix(got, "id: 2\nevent: timeout"), "last event %q", got)
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout event")
	}

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	for _, s := range seen {
		assert.Equal(t, "HTTP/1.1", s.proto)
		assert.NotEqual(t, "close", strings.ToLower(s.connection), "upstream connections should be kept alive")
		assert.Equal(t, "127.0.0.1", s.xff, "X-Forwarded-For")
	}
	assert.Equal(t, "7", seen[1].lastEventID, "Last-Event-ID passed to the replica")
	assert.Equal(t, seen[0].remote, seen[1].remote, "the second request should reuse the kept-alive upstream connection")
}

// TestNginxLogsNoToken: nginx.conf's access log names each request's path,
// never its query, which carries a stream's wait token (?access_token=).
func TestNginxLogsNoToken(t *testing.T) {
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJqb2JzIjpbImoxIl19.c2VjcmV0LXNpZ25hdHVyZQ"
	replica := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"AUTH_001","message":"유효한 대기 토큰이 필요합니다"}`)
	}))
	t.Cleanup(replica.Close)
	dir, addr := t.TempDir(), nginxtest.FreeAddr(t)
	conf := nginxtest.Conf(t, dir, nginxtest.Options{Upstream: strings.TrimPrefix(replica.URL, "http://"), Listen: addr})
	nginxtest.Start(t, nginxtest.Binary(t), dir, conf, addr)

	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/api/events/jobs/j1/stream?access_token=" + token, "/api/events/jobs/stream?ids=j1&ACCESS_TOKEN=" + token + "&lastEventId=1"} {
		resp, err := client.Get("http://" + addr + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	var log []byte
	streamtest.Eventually(t, 5*time.Second, "two requests in the access log", func() bool {
		log, _ = os.ReadFile(nginxtest.AccessLog(dir))
		return bytes.Count(log, []byte("\n")) >= 2
	})
	assert.Contains(t, string(log), `"GET /api/events/jobs/j1/stream HTTP/1.1" 401`)
	assert.NotContains(t, string(log), "c2VjcmV0LXNpZ25hdHVyZQ", "a token in nginx's access log")
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}
