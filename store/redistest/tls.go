package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLS is a private certificate authority and certificates signed by it for
// 127.0.0.1 and localhost, as PEM files, made for one test.
type TLS struct {
	CA                    string // the CA's certificate
	ServerCert, ServerKey string // for redis-server (also its client side: replication, cluster bus)
	ClientCert, ClientKey string // for a client, when servers require one
	OtherCA               string // a CA that signed none of these: the wrong CA
	OtherCert, OtherKey   string // a client certificate signed by OtherCA
	dir                   string
	caCert                *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

// NewTLS makes the CA and the certificates in a temporary directory.
func NewTLS(tb testing.TB) *TLS {
	tb.Helper()
	t := &TLS{dir: tb.TempDir()}
	t.caCert, t.caKey, t.CA = t.authority(tb, "jobwait test CA", "ca.pem")
	other, otherKey, otherPath := t.authority(tb, "some other CA", "other-ca.pem")
	t.OtherCA = otherPath
	t.ServerCert, t.ServerKey = t.leaf(tb, "redis", "server", t.caCert, t.caKey)
	t.ClientCert, t.ClientKey = t.leaf(tb, "jobwait", "client", t.caCert, t.caKey)
	t.OtherCert, t.OtherKey = t.leaf(tb, "jobwait", "other", other, otherKey)
	return t
}

// ServerArgs are redis-server's arguments for TLS on tlsPort, beside its
// plain port (which tests use for their own clients); authClients requires
// client certificates.
func (t *TLS) ServerArgs(tlsPort int, authClients bool) []string {
	auth := "no"
	if authClients {
		auth = "yes"
	}
	return []string{
		"--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", t.ServerCert, "--tls-key-file", t.ServerKey,
		"--tls-ca-cert-file", t.CA, "--tls-auth-clients", auth,
	}
}

// StartTLS starts a private redis-server that speaks TLS on a second port
// and returns it with its rediss:// URL.
func StartTLS(tb testing.TB, t *TLS, authClients bool, args ...string) (*Server, string) {
	tb.Helper()
	SkipIfShort(tb)
	port := 0
	s, err := startWith(tb.TempDir(), func() ([]string, error) {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
		return append(t.ServerArgs(port, authClients), args...), nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s, "rediss://127.0.0.1:" + strconv.Itoa(port) + "/0"
}

// ClientConfig is a client's TLS configuration trusting the CA, with the
// client certificate.
func (t *TLS) ClientConfig(tb testing.TB) *tls.Config {
	tb.Helper()
	ca, err := os.ReadFile(t.CA)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func (t *TLS) authority(tb testing.TB, name, file string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key, t.write(tb, file, "CERTIFICATE", der)
}

func (t *TLS) leaf(tb testing.TB, cn, file string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (string, string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return t.write(tb, file+".pem", "CERTIFICATE", der), t.write(tb, file+"-key.pem", "PRIVATE KEY", kder)
}

func (t *TLS) write(tb testing.TB, file, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(t.dir, file)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
