// Package nginxtest runs deploy/nginx.conf for tests: rewritten to run
// unprivileged on loopback ports in a temporary directory, in front of the
// replicas a test starts, with a self-signed certificate for its TLS
// (HTTP/2) server. It is shared by the deployment checks (deploy) and the
// browser tests (web), so that every test speaks one language.
package nginxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
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
	path, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, statErr := os.Stat(p); statErr == nil {
				return p
			}
		}
		tb.Fatalf("nginx not found (%v): install it, e.g. `apt-get install -y nginx`", err)
	}
	return path
}

// Source returns deploy/nginx.conf as written.
func Source(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "nginx.conf"))
	require.NoError(tb, err, "read %s", ConfPath)
	return string(data)
}

// Options say where the rewritten configuration runs.
type Options struct {
	Upstream string // the replicas' address, host:port (every upstream server)
	Listen   string // the plain HTTP/1.1 server's address
	// TLSListen is the TLS (HTTP/2) server's address; empty: a free one.
	// Its certificate is made here, self-signed for 127.0.0.1 and
	// localhost: Cert and Key are its files in the directory.
	TLSListen string
}

// Conf writes nginx.conf rewritten to run here into dir and returns its
// path: upstream servers at o.Upstream, listening on o.Listen (and
// o.TLSListen), pid, logs, temp files and the certificate in dir, one
// worker (so upstream keepalive is observable).
func Conf(tb testing.TB, dir string, o Options) string {
	tb.Helper()
	src := Source(tb)
	if o.TLSListen == "" {
		o.TLSListen = FreeAddr(tb)
	}
	cert, key := Cert(tb, dir)
	subs := []struct {
		re, repl string
		needed   bool
	}{
		{`(?m)^(\s*server\s+)[A-Za-z0-9.-]+:\d+`, "${1}" + o.Upstream, true},
		{`(?m)^(\s*listen\s+)[^;]*\bssl\b[^;]*;`, "${1}" + o.TLSListen + " ssl http2;", false},
		{`(?m)^(\s*listen\s+)[0-9]+;`, "${1}" + o.Listen + ";", true},
		{`(?m)^(\s*ssl_certificate\s+)[^;]+;`, "${1}" + cert + ";", false},
		{`(?m)^(\s*ssl_certificate_key\s+)[^;]+;`, "${1}" + key + ";", false},
		{`(?m)^http\s*\{`, "http {\n" + tempPaths(dir), true},
		{`(?m)^\s*pid\s+[^;]+;`, "pid " + filepath.Join(dir, "nginx.pid") + ";", false},
		{`(?m)^(\s*)error_log\s+[^;]+;`, "${1}error_log " + filepath.Join(dir, "error.log") + " info;", false},
		{`(?m)^(\s*)access_log\s+\S+`, "${1}access_log " + AccessLog(dir), false},
		{`(?m)^\s*worker_processes\s+[^;]+;`, "worker_processes 1;", false},
		{`(?m)^(\s*)worker_rlimit_nofile\s+[^;]+;`, "", false},
	}
	for _, s := range subs {
		re := regexp.MustCompile(s.re)
		if s.needed {
			require.True(tb, re.MatchString(src), "nginx.conf has nothing matching %s to rewrite for the test", s.re)
		}
		src = re.ReplaceAllString(src, s.repl)
	}
	if !regexp.MustCompile(`(?m)^\s*pid\s`).MatchString(src) {
		src = "pid " + filepath.Join(dir, "nginx.pid") + ";\n" + src
	}
	if !regexp.MustCompile(`(?m)^\s*worker_processes\s`).MatchString(src) {
		src = "worker_processes 1;\n" + src
	}
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

// Cert writes a self-signed certificate for 127.0.0.1 and localhost, and
// its key, into dir (once) and returns their paths.
func Cert(tb testing.TB, dir string) (cert, key string) {
	tb.Helper()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(cert); err == nil {
		return cert, key
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "jobwait test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(tb, err)
	kd, err := x509.MarshalECPrivateKey(k)
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(tb, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600))
	return cert, key
}

// FreeAddr returns a loopback address nothing listens on just now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := l.Addr().String()
	require.NoError(tb, l.Close())
	return addr
}

// Start runs nginx in the foreground until the test ends, and returns once
// it accepts connections on addr.
func Start(tb testing.TB, bin, dir, conf, addr string) {
	tb.Helper()
	cmd := exec.Command(bin, append(Args(dir, conf), "-g", "daemon off;")...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(tb, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	deadline := time.After(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			tb.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		case <-deadline:
			tb.Fatalf("nginx not listening on %s after 10 s", addr)
		case <-time.After(20 * time.Millisecond):
		}
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
