package servertest

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// Source is a client address on loopback (127.0.0.2, 127.0.0.3, ...; Linux
// routes all of 127.0.0.0/8 to lo), so that one test can play several
// clients, each counted on its own.
type Source struct {
	IP string
	d  net.Dialer
}

// From is the source address ip.
func From(ip string) *Source {
	return &Source{IP: ip, d: net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}}
}

// Dial opens a connection from the source to addr.
func (s *Source) Dial(addr string) (net.Conn, error) { return s.d.Dial("tcp", addr) }

// MustDial is Dial, failing tb on an error, closed when the test ends.
func (s *Source) MustDial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := s.Dial(addr)
	if err != nil {
		tb.Fatalf("dial %s from %s: %v", addr, s.IP, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Get is the package's Get from the source.
func (s *Source) Get(addr, path string, limit time.Duration, header ...string) (*Conn, error) {
	nc, err := s.Dial(addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{Conn: nc, br: bufio.NewReader(nc)}
	if err := c.Again(path, limit, header...); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Client is an HTTP client (keep-alive) whose connections come from the
// source; timeout bounds each request (0: no bound).
func (s *Source) Client(tb testing.TB, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         s.d.DialContext,
		MaxIdleConnsPerHost: 4096,
		DisableCompression:  true,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}
