package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// minRSABits is the smallest RSA modulus trusted (NIST SP 800-131A).
const minRSABits = 2048

// errUnknownKID: no key of the token's kid, even after the refresh allowed.
var errUnknownKID = errors.New("no key of this kid in the key set")

// key is one verification key and the one algorithm it is trusted for.
type key struct {
	alg string
	pub any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// jwks is the cache of the Event Service's key set. Reads are lock-free
// (an atomic pointer to an immutable map); one fetch runs at a time and
// every request that needs it waits for that one.
type jwks struct {
	cfg  Config // with defaults, and HTTPClient refusing redirects
	url  string // JWKSURL as logged: its password hidden
	keys atomic.Pointer[map[string]key]

	mu        sync.Mutex
	flight    chan struct{} // closed when the fetch under way ends; nil: none
	attempted time.Time     // the start of the last fetch
	skipped   string        // the keys the last fetch left out, and why
	h         Health        // all but Mode
}

func newJWKS(c Config) *jwks {
	client := &http.Client{}
	if c.HTTPClient != nil {
		*client = *c.HTTPClient
	}
	// A redirect could lead anywhere, plain http included.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.HTTPClient = client
	u, _ := url.Parse(c.JWKSURL) // checked by withDefaults
	s := &jwks{cfg: c, url: u.Redacted(), h: Health{Source: SourceJWKS}}
	s.keys.Store(&map[string]key{})
	return s
}

// lookup returns the key of kid, fetching the set once more if kid is not
// in it and no fetch started within the retry interval before now.
func (s *jwks) lookup(ctx context.Context, kid string, now time.Time) (key, error) {
	if k, ok := (*s.keys.Load())[kid]; ok {
		return k, nil
	}
	s.update(ctx, context.WithoutCancel(ctx), now, true)
	if k, ok := (*s.keys.Load())[kid]; ok {
		return k, nil
	}
	return key{}, errUnknownKID
}

// update fetches the key set, or waits (as long as ctx lasts) for the fetch
// under way. limited skips the fetch when one started within the retry
// interval before now. The fetch itself runs under fetchCtx, bounded by the
// timeout: a request that started it may leave, the others wait for it.
func (s *jwks) update(ctx, fetchCtx context.Context, now time.Time, limited bool) {
	s.mu.Lock()
	if done := s.flight; done != nil {
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return
	}
	if limited && !s.attempted.IsZero() && now.Sub(s.attempted) < s.cfg.JWKSRetry {
		s.mu.Unlock()
		return
	}
	done := make(chan struct{})
	s.flight, s.attempted = done, now
	s.mu.Unlock()

	keys, skipped, err := s.fetch(fetchCtx)

	s.mu.Lock()
	s.settle(keys, skipped, err)
	s.flight = nil
	s.mu.Unlock()
	close(done)
}

// settle records a fetch's outcome and logs what changed; mu is held.
func (s *jwks) settle(keys map[string]key, skipped string, err error) {
	s.h.Fetches++
	if err != nil {
		s.h.FetchErrors++
		s.h.Error = err.Error()
		if !s.h.Stale {
			s.cfg.Logger.Warn("auth: key set fetch failed: tokens are checked with the keys fetched before",
				"url", s.url, "keys", s.h.Keys, "fetched", s.h.Fetched, "err", err)
		}
		s.h.Stale = true
		return
	}
	if s.h.Stale {
		s.cfg.Logger.Info("auth: key set fetched again", "url", s.url, "keys", len(keys))
	}
	if skipped != s.skipped && skipped != "" {
		s.cfg.Logger.Warn("auth: key set holds keys that are not trusted", "url", s.url, "skipped", skipped)
	}
	s.keys.Store(&keys)
	s.skipped = skipped
	s.h.Keys, s.h.Stale, s.h.Error, s.h.Fetched = len(keys), false, "", time.Now()
}

// fetch reads and parses the key set.
func (s *jwks) fetch(ctx context.Context) (map[string]key, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.JWKSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.JWKSURL, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("key set answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.JWKSMaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read key set: %w", err)
	}
	if int64(len(body)) > s.cfg.JWKSMaxBytes {
		return nil, "", fmt.Errorf("key set larger than %d bytes", s.cfg.JWKSMaxBytes)
	}
	return parseSet(body)
}

// parseSet reads a JWK Set: every key that may be trusted, by kid, and a
// note of the keys left out (an untrusted key is left out, not the set).
func parseSet(body []byte) (map[string]key, string, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Keys == nil {
		return nil, "", errors.New("key set is not a JSON Web Key Set (an object with keys)")
	}
	keys := make(map[string]key, len(*doc.Keys))
	var skipped []string
	seen := map[string]bool{}
	for i, raw := range *doc.Keys {
		kid, k, err := parseKey(raw)
		if err == nil && seen[kid] {
			// Which of two keys a token means cannot be known: neither.
			delete(keys, kid)
			err = errors.New("kid used twice")
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("#%d %q: %v", i, kid, err))
			continue
		}
		seen[kid] = true
		keys[kid] = k
	}
	return keys, strings.Join(skipped, "; "), nil
}

// parseKey reads one JWK (with jwkset, which checks its fields and that an
// EC point is on its curve) and pins it to one algorithm.
func parseKey(raw json.RawMessage) (string, key, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", key{}, errors.New("not a JWK")
	}
	switch {
	case m.KID == "":
		return "", key{}, errors.New("no kid")
	case m.D != "" || m.P != "" || m.Q != "" || m.K != "":
		// A published private or symmetric key lets anyone mint tokens.
		return m.KID, key{}, errors.New("secret key material published: the key is compromised, not trusted")
	case m.USE != "" && m.USE != jwkset.UseSig:
		return m.KID, key{}, fmt.Errorf("use %q is not sig", m.USE)
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return m.KID, key{}, errors.New("key_ops without verify")
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return m.KID, key{}, err
	}
	alg, err := algorithmOf(j.Key())
	if err != nil {
		return m.KID, key{}, err
	}
	if m.ALG != "" && string(m.ALG) != alg {
		return m.KID, key{}, fmt.Errorf("alg %q does not fit the key (%s)", m.ALG, alg)
	}
	return m.KID, key{alg: alg, pub: j.Key()}, nil
}

// algorithmOf is the one algorithm a public key is trusted for.
func algorithmOf(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits: want at least %d", k.N.BitLen(), minRSABits)
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("EC key on %s: ES256 wants P-256", k.Curve.Params().Name)
		}
		return "ES256", nil
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("key type %T is not accepted (RSA, EC P-256, Ed25519)", pub)
}

// run fetches the set every refresh interval, and every retry interval
// while fetches fail, until ctx ends.
func (s *jwks) run(ctx context.Context) {
	for {
		next := s.cfg.JWKSRefresh
		if s.health().Stale {
			next = s.cfg.JWKSRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
			s.update(ctx, ctx, time.Now(), false)
		}
	}
}

// health is the cache's state for Health.
func (s *jwks) health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}
