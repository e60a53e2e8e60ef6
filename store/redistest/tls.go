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

	"github.com/stretchr/testify/require"
)

// TLS is a private certificate authority and certificates signed by it for
// 127.0.0.1 and localhost, as PEM files, made for one test.
type TLS struct {
	CA                    string // the CA's certificate
	ServerCert, ServerKey string // for redis-server (also its client side: replication, cluster bus)
	ClientCert, ClientKey string // for a client, when servers require one
	OtherCA               string // a CA that signed none of these: the wrong CA
	OtherCert, OtherKey   string // a client certificate signed by OtherCA
}

// NewTLS makes the CA and the certificates in a temporary directory.
func NewTLS(tb testing.TB) *TLS {
	tb.Helper()
	dir, t := tb.TempDir(), &TLS{}
	ca, caPath, _ := issue(tb, dir, "jobwait test CA", "ca", nil)
	other, otherPath, _ := issue(tb, dir, "some other CA", "other-ca", nil)
	t.CA, t.OtherCA = caPath, otherPath
	_, t.ServerCert, t.ServerKey = issue(tb, dir, "redis", "server", ca)
	_, t.ClientCert, t.ClientKey = issue(tb, dir, "jobwait", "client", ca)
	_, t.OtherCert, t.OtherKey = issue(tb, dir, "jobwait", "other", other)
	return t
}

// issuer is a CA's certificate and key.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// issue makes a key and a certificate for cn, signed by ca (nil: a CA of its
// own), and writes them to dir as name.pem and name-key.pem.
func issue(tb testing.TB, dir, cn, name string, ca *issuer) (self *issuer, certPath, keyPath string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		ca = &issuer{tmpl, key}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(tb, err)
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	require.NoError(tb, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(tb, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	return &issuer{cert, key}, certPath, keyPath
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
	s := node{tls: t, authClients: authClients, args: fixed(args...)}.startFor(tb)
	return s, "rediss://" + s.tlsAddr() + "/0"
}

// ClientConfig is a client's TLS configuration trusting the CA, with the
// client certificate.
func (t *TLS) ClientConfig(tb testing.TB) *tls.Config {
	tb.Helper()
	ca, err := os.ReadFile(t.CA)
	require.NoError(tb, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
	require.NoError(tb, err)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
