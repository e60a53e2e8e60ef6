package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"jobwait/store/redistest"

	"github.com/stretchr/testify/require"
)

// ConfPath is the configuration's path from the repository root.
const ConfPath = "deploy/nginx.conf"

// Binary returns the nginx binary, failing the test with how to install it.
func Binary(tb testing.TB) string {
	tb.Helper()
	redistest.SkipIfShort(tb)
	// Debian's nginx is in sbin, not on a non-root PATH.
	for _, name := range []string{"nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	tb.Fatal("nginx not found: install it, e.g. `apt-get install -y nginx`")
	return ""
}

// Options say where the rewritten configuration runs.
type Options struct {
	Upstream string // the replicas' address, host:port (every upstream server)
	Listen   string // the plain HTTP/1.1 server's address
	// TLSListen is the TLS (HTTP/2) server's address; empty: a free one.
	// Its certificate is made here, for 127.0.0.1 and localhost.
	TLSListen string
}

// Conf writes nginx.conf rewritten to run here into dir and returns its path:
// upstreams at o.Upstream, listening on o.Listen and o.TLSListen, pid, logs
// and temp files in dir, one worker (so upstream keepalive is observable).
func Conf(tb testing.TB, dir string, o Options) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "nginx.conf"))
	require.NoError(tb, err, "read %s", ConfPath)
	src := string(data)
	if o.TLSListen == "" {
		o.TLSListen = FreeAddr(tb)
	}
	certs := redistest.NewTLS(tb)
	for _, s := range []struct {
		re, repl string
		needed   bool
	}{
		{`(?m)^(\s*server\s+)[A-Za-z0-9.-]+:\d+`, "${1}" + o.Upstream, true},
		{`(?m)^(\s*listen\s+)[^;]*\bssl\b[^;]*;`, "${1}" + o.TLSListen + " ssl http2;", false},
		{`(?m)^(\s*listen\s+)[0-9]+;`, "${1}" + o.Listen + ";", true},
		{`(?m)^(\s*ssl_certificate\s+)[^;]+;`, "${1}" + certs.ServerCert + ";", false},
		{`(?m)^(\s*ssl_certificate_key\s+)[^;]+;`, "${1}" + certs.ServerKey + ";", false},
		{`(?m)^http\s*\{`, "http {\n" + tempPaths(dir), true},
		{`(?m)^(\s*)error_log\s+[^;]+;`, "${1}error_log " + filepath.Join(dir, "error.log") + " info;", false},
		{`(?m)^(\s*)access_log\s+\S+`, "${1}access_log " + AccessLog(dir), false},
		{`(?m)^\s*(pid|worker_processes|worker_rlimit_nofile)\s+[^;]+;`, "", false},
	} {
		re := regexp.MustCompile(s.re)
		if s.needed {
			require.True(tb, re.MatchString(src), "nginx.conf has nothing matching %s to rewrite for the test", s.re)
		}
		src = re.ReplaceAllString(src, s.repl)
	}
	src = "pid " + filepath.Join(dir, "nginx.pid") + ";\nworker_processes 1;\n" + src
	path := filepath.Join(dir, "nginx.conf")
	require.NoError(tb, os.WriteFile(path, []byte(src), 0o644))
	return path
}

// AccessLog is the access log of the nginx that Conf set up in dir.
func AccessLog(dir string) string { return filepath.Join(dir, "access.log") }

func tempPaths(dir string) string {
	var b strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", k, filepath.Join(dir, k))
	}
	return b.String()
}

// Args are the flags that keep nginx inside dir.
func Args(dir, conf string) []string {
	return []string{"-p", dir + "/", "-e", filepath.Join(dir, "error.log"), "-c", conf}
}

// FreeAddr returns a loopback address nothing listens on just now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	port, err := redistest.FreePort()
	require.NoError(tb, err)
	return "127.0.0.1:" + strconv.Itoa(port)
}

// Start runs nginx in the foreground until the test ends, and returns once
// it accepts connections on addr.
func Start(tb testing.TB, bin, dir, conf, addr string) {
	tb.Helper()
	cmd := exec.Command(bin, append(Args(dir, conf), "-g", "daemon off;")...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := redistest.StartProc(cmd)
	require.NoError(tb, err)
	tb.Cleanup(func() { p.Stop(os.Interrupt, 5*time.Second) }) // SIGINT: fast shutdown
	err = p.Poll(10*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		tb.Fatalf("nginx not listening on %s: %v\n%s\n%s", addr, err, out.String(), log)
	}
}

// Proxy runs deploy/nginx.conf in front of upstream until the test ends
// and returns its plain and TLS addresses.
func Proxy(tb testing.TB, upstream string) (plain, tls string) {
	tb.Helper()
	dir := tb.TempDir()
	plain, tls = FreeAddr(tb), FreeAddr(tb)
	conf := Conf(tb, dir, Options{Upstream: upstream, Listen: plain, TLSListen: tls})
	Start(tb, Binary(tb), dir, conf, plain)
	return plain, tls
}
