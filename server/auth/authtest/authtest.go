package authtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// Key is a signing key, its algorithm and its kid.
type Key struct {
	Alg     jose.SignatureAlgorithm
	KID     string
	Private any // []byte (HS256), *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey
}

// Public is the key as a key set publishes it: public part, kid, alg, use.
func (k Key) Public() jose.JSONWebKey {
	priv := jose.JSONWebKey{Key: k.Private}
	pub := priv.Public()
	pub.KeyID, pub.Algorithm, pub.Use = k.KID, string(k.Alg), "sig"
	return pub
}

// Generated keys are shared by every test of a binary: RSA keys take a
// while to make, and a test key needs no freshness.
var (
	rsaKey  = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	ecKey   = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	ecKey2  = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	edKey   = sync.OnceValue(func() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(Secret(ed25519.SeedSize)) })
)

// Secret returns n random bytes, an HS256 secret.
func Secret(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// HS256 is a key of secret.
func HS256(secret []byte) Key { return Key{Alg: jose.HS256, Private: secret} }

// RS256 is the kit's RSA 2048 key, named kid.
func RS256(kid string) Key { return Key{Alg: jose.RS256, KID: kid, Private: rsaKey()} }

// OtherRS256 is another RSA key, named kid.
func OtherRS256(kid string) Key { return Key{Alg: jose.RS256, KID: kid, Private: rsaKey2()} }

// ES256 is the kit's P-256 key, named kid.
func ES256(kid string) Key { return Key{Alg: jose.ES256, KID: kid, Private: ecKey()} }

// OtherES256 is another P-256 key, named kid.
func OtherES256(kid string) Key { return Key{Alg: jose.ES256, KID: kid, Private: ecKey2()} }

// EdDSA is the kit's Ed25519 key, named kid.
func EdDSA(kid string) Key { return Key{Alg: jose.EdDSA, KID: kid, Private: edKey()} }

// Claims is a token's payload. Zero times and nil slices are left out.
type Claims struct {
	Issuer    string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time
	IssuedAt  time.Time
	Jobs      []string
}

// For is the usual payload: audience jobwait, the jobs, valid from now for ttl.
func For(now time.Time, ttl time.Duration, jobs ...string) Claims {
	return Claims{Audience: []string{"jobwait"}, IssuedAt: now, Expiry: now.Add(ttl), Jobs: jobs}
}

// Payload is c as the JSON object of a token.
func (c Claims) Payload() map[string]any {
	p := map[string]any{}
	if c.Issuer != "" {
		p["iss"] = c.Issuer
	}
	if c.Audience != nil {
		p["aud"] = c.Audience
	}
	for name, t := range map[string]time.Time{"exp": c.Expiry, "nbf": c.NotBefore, "iat": c.IssuedAt} {
		if !t.IsZero() {
			p[name] = josejwt.NewNumericDate(t)
		}
	}
	if c.Jobs != nil {
		p["jobs"] = c.Jobs
	}
	return p
}

// Sign mints a token of c with k (go-jose), its kid in the header if it has one.
func Sign(t testing.TB, k Key, c Claims) string {
	t.Helper()
	return SignPayload(t, k, c.Payload(), nil)
}

// SignPayload mints a token of any payload with k, with extra header fields.
func SignPayload(t testing.TB, k Key, payload any, header map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.KID != "" {
		opts.WithHeader("kid", k.KID)
	}
	for name, v := range header {
		opts.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Private}, opts)
	if err != nil {
		t.Fatalf("authtest: signer for %s: %v", k.Alg, err)
	}
	tok, err := josejwt.Signed(signer).Claims(payload).Serialize()
	if err != nil {
		t.Fatalf("authtest: sign: %v", err)
	}
	return tok
}

// Unsigned assembles a token from a header, a payload and a signature
// (base64url, no padding), for what no library will sign: alg none, a
// header that is not JSON, an empty signature.
func Unsigned(header, payload any, signature []byte) string {
	seg := func(v any) string {
		b, ok := v.([]byte)
		if !ok {
			b = must(json.Marshal(v))
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(header) + "." + seg(payload) + "." + base64.RawURLEncoding.EncodeToString(signature)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic("authtest: " + err.Error())
	}
	return v
}
