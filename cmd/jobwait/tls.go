package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// redisTLS reads the CA file and the client certificate and key that
// rediss:// connections use. It returns nil when none is set: the system's
// roots verify the server, and no client certificate is sent.
func redisTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
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

// withTLS gives a client's TLS configuration, which go-redis made from a
// rediss:// URL (ServerName, minimum version), the CA and the client
// certificate of tc. It refuses a URL that turns verification off, and TLS
// settings without rediss://, so that TLS is never silently weaker than
// asked for.
func withTLS(rawURL string, base, tc *tls.Config) (*tls.Config, error) {
	if u, err := url.Parse(rawURL); err == nil && u.Query().Has("skip_verify") {
		return nil, errors.New("REDIS_URL: skip_verify would turn certificate verification off, which jobwait does not do: give the server's CA with JOBWAIT_REDIS_CA")
	}
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

// tlsTrouble returns a message for an error of a TLS handshake (a server
// certificate that does not verify, a client certificate refused, a
// server that speaks no TLS), which waiting does not cure; nil for any
// other error.
func tlsTrouble(err error) error {
	if err == nil {
		return nil
	}
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &ierr):
		return fmt.Errorf("REDIS_URL: the server's TLS certificate does not verify (check JOBWAIT_REDIS_CA): %w", err)
	case errors.As(err, &herr):
		return fmt.Errorf("REDIS_URL: the server's TLS certificate does not name the host of REDIS_URL: %w", err)
	case errors.As(err, &rerr):
		return fmt.Errorf("REDIS_URL is rediss:// but the server does not speak TLS on that port: %w", err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		return fmt.Errorf("REDIS_URL: the server refused jobwait's TLS handshake (a client certificate required or not trusted? check JOBWAIT_REDIS_CERT and JOBWAIT_REDIS_KEY): %w", err)
	}
	return nil
}
