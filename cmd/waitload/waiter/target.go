package waiter

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Target is the server's base URL, checked.
type Target struct {
	dial     string      // host:port, what waiters connect to
	host     string      // the Host header, as the user wrote it
	base     string      // path prefix without a trailing slash
	url      string      // scheme://host and base path, for net/http clients
	tls      *tls.Config // https: whom to trust, the server's name, HTTP/1.1; nil for http
	loopback bool
}

// ParseTarget reads -target, an http or https URL with an optional base
// path, and -ca-cert, a PEM file of CAs to trust for https besides the
// system's (none when "").
func ParseTarget(s, caFile string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("-target %q: %w", s, err)
	}
	port := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if port == "" || u.Hostname() == "" || u.RawQuery != "" || u.User != nil {
		return Target{}, fmt.Errorf("-target %q: want http://host[:port][/path] or https://…", s)
	}
	base := strings.TrimSuffix(u.Path, "/")
	t := Target{dial: net.JoinHostPort(u.Hostname(), cmp.Or(u.Port(), port)), host: u.Host, base: base,
		url: u.Scheme + "://" + u.Host + base}
	ip := net.ParseIP(u.Hostname()).To4()
	t.loopback = strings.EqualFold(u.Hostname(), "localhost") || ip != nil && ip.IsLoopback()
	if u.Scheme == "https" {
		if t.tls, err = clientTLS(caFile, u.Hostname()); err != nil {
			return Target{}, err
		}
	} else if caFile != "" {
		return Target{}, fmt.Errorf("-ca-cert %s: -target %q is not https", caFile, s)
	}
	return t, nil
}

// clientTLS trusts the system's certificate authorities and those of
// caFile, for a server of that name speaking HTTP/1.1.
func clientTLS(caFile, name string) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-cert: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-cert %s: no PEM certificate in it", caFile)
		}
	}
	return &tls.Config{RootCAs: roots, ServerName: name, NextProtos: []string{"http/1.1"}}, nil
}

// URL is the target's scheme://host and base path, for net/http clients.
func (t Target) URL() string { return t.url }

// TLS is what an https target's clients trust; nil for http.
func (t Target) TLS() *tls.Config { return t.tls }

// Loopback says whether the target is on this machine (localhost or an
// address in 127.0.0.0/8), which the source addresses 127.0.0.x can reach.
func (t Target) Loopback() bool { return t.loopback }
