package redisconn

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// LoadTLS reads the CA file and client certificate and key of rediss://
// connections (Settings.TLS); nil when none is set.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-redis-ca (JOBWAIT_REDIS_CA): %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-redis-ca (JOBWAIT_REDIS_CA) = %q: no PEM certificate in it", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("-redis-cert (JOBWAIT_REDIS_CERT) and -redis-key (JOBWAIT_REDIS_KEY): set both, or neither")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("-redis-cert (JOBWAIT_REDIS_CERT), -redis-key (JOBWAIT_REDIS_KEY): %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// errSkipVerify refuses a URL, of any form, that turns verification off.
var errSkipVerify = errors.New("REDIS_URL: skip_verify would turn certificate verification off, which jobwait does not do: give the server's CA with JOBWAIT_REDIS_CA")

// withTLS gives the TLS configuration go-redis made from a rediss:// URL
// (ServerName, minimum version) the CA and client certificate of tc. It
// refuses TLS settings without rediss://: TLS is never silently weaker
// than asked for.
func withTLS(base, tc *tls.Config) (*tls.Config, error) {
	if base == nil {
		if tc != nil {
			return nil, errors.New("JOBWAIT_REDIS_CA, JOBWAIT_REDIS_CERT or JOBWAIT_REDIS_KEY is set but REDIS_URL is redis://, without TLS: use rediss://")
		}
		return nil, nil
	}
	out := base.Clone()
	if tc != nil {
		out.RootCAs = tc.RootCAs
		out.Certificates = tc.Certificates
	}
	return out, nil
}

// Handshake failures Go's own errors do not tell, each wrapped with where
// it happened: a server that never answered the handshake (a plain-text
// Redis port waits for a command), and one that closed the connection right
// after it, before answering anything (a client certificate refused under
// TLS 1.3).
var (
	errTLSUnanswered = errors.New("REDIS_URL is rediss:// but the server gave no answer to the TLS handshake: most likely a plain-text Redis port, which waits for a command and says nothing (use its tls-port, or redis://)")
	errTLSRefused    = errors.New("REDIS_URL: the server refused jobwait's TLS handshake (a client certificate required or not trusted? check JOBWAIT_REDIS_CERT and JOBWAIT_REDIS_KEY)")
)

// tlsTrouble returns a message for an error of a TLS handshake (a server
// certificate that does not verify, a client certificate refused, a server
// that speaks no TLS or says nothing to the handshake), which waiting does
// not cure; nil for any other error.
func tlsTrouble(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(x509.HostnameError)):
		return fmt.Errorf("REDIS_URL: the server's TLS certificate does not name the host of REDIS_URL: %w", err)
	case errors.As(err, new(*tls.CertificateVerificationError)), errors.As(err, new(x509.UnknownAuthorityError)),
		errors.As(err, new(x509.CertificateInvalidError)):
		return fmt.Errorf("REDIS_URL: the server's TLS certificate does not verify (expired, or signed by a CA jobwait does not trust: check JOBWAIT_REDIS_CA): %w", err)
	case errors.As(err, new(tls.RecordHeaderError)):
		return fmt.Errorf("REDIS_URL is rediss:// but the server does not speak TLS on that port (a plain-text Redis port? use its tls-port, or redis://): %w", err)
	case errors.Is(err, errTLSUnanswered), errors.Is(err, errTLSRefused):
		return err
	case strings.Contains(err.Error(), "remote error: tls:"):
		return fmt.Errorf("%w: %w", errTLSRefused, err)
	}
	return nil
}

// dialer returns how jobwait dials every Redis connection (go-redis does no
// TLS of its own when given a dialer): TCP with go-redis's own keep-alive
// (a dead peer is noticed within a minute), then, when tc is set, the TLS
// handshake, the whole within timeout.
func dialer(timeout time.Duration, tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || tc == nil {
			return c, err
		}
		cfg := tc
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = tc.Clone()
			cfg.ServerName = host
		}
		heard := &heardConn{Conn: c}
		tconn := tls.Client(heard, cfg)
		if err := tconn.HandshakeContext(ctx); err != nil {
			c.Close()
			var ne net.Error
			if heard.n.Load() == 0 && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
				return nil, fmt.Errorf("%w: TLS handshake with %s: %w", errTLSUnanswered, addr, err)
			}
			return nil, err
		}
		return tconn, nil
	}
}

// handshakeTrouble dials addrs in turn until one answers, and returns
// tlsTrouble's message for the first handshake that cannot work; nil when
// one answers, none does (an unreachable Redis is waited for), or without
// TLS. go-redis cannot tell a silent handshake: it dials in the background,
// retrying, past the caller's deadline.
func handshakeTrouble(ctx context.Context, tc *tls.Config, dial func(context.Context, string, string) (net.Conn, error), addrs ...string) error {
	if tc == nil {
		return nil
	}
	for _, a := range addrs {
		c, err := dial(ctx, "tcp", a)
		if err == nil {
			err = greet(ctx, c)
			c.Close()
		}
		if err == nil {
			return nil
		}
		if terr := tlsTrouble(err); terr != nil {
			return terr
		}
	}
	return nil
}

// greet sends QUIT, which Redis answers +OK before any AUTH or ACL (leaving
// no error in INFO errorstats), on a connection just dialed: under TLS 1.3
// a server refuses jobwait's client certificate only after the handshake,
// with an alert or by closing the connection.
func greet(ctx context.Context, c net.Conn) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(probeTimeout)
	}
	_ = c.SetDeadline(deadline)
	_, werr := c.Write([]byte("QUIT\r\n"))
	_, err := c.Read(make([]byte, 1))
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "remote error: tls:"):
		return err
	case werr != nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%w: the server closed the connection right after the TLS handshake: %w", errTLSRefused, cmp.Or(werr, err))
	}
	return err
}

// heardConn counts the bytes read from a connection.
type heardConn struct {
	net.Conn
	n atomic.Int64
}

func (c *heardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
