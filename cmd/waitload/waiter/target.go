package waiter

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Target is the server's base URL, checked: what waiters connect to and
// what they ask for.
type Target struct {
	dial string // 127.x.y.z:port, what waiters connect to
	host string // the Host header, as the user wrote it
	base string // path prefix without a trailing slash
	url  string // scheme://host, for net/http (metrics, readyz)
}

// URL is the target's scheme://host and base path, for net/http clients.
func (t Target) URL() string { return t.url + t.base }

// ParseTarget reads -target; only http to a loopback address is accepted.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("-target %q: %w", s, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return Target{}, fmt.Errorf("-target %q: want http://host:port", s)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ip, err := LoopbackIP(u.Hostname())
	if err != nil {
		return Target{}, fmt.Errorf("-target %q: %w", s, err)
	}
	hostport := net.JoinHostPort(ip, port)
	return Target{
		dial: hostport,
		host: u.Host,
		base: strings.TrimSuffix(u.Path, "/"),
		url:  "http://" + hostport,
	}, nil
}

// ErrNotLoopback is the workplace rule: load is only ever put on this machine.
var ErrNotLoopback = errors.New("only loopback targets (127.0.0.0/8 or localhost) are allowed")

// LoopbackIP accepts "localhost" and IPv4 literals in 127.0.0.0/8. Other
// names are refused without resolving them: what a name resolves to can change.
func LoopbackIP(host string) (string, error) {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1", nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || ip.To4()[0] != 127 {
		return "", fmt.Errorf("%w: %q", ErrNotLoopback, host)
	}
	return ip.To4().String(), nil
}
