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
	"time"

	"github.com/MicahParks/jwkset"
)

// minRSABits is the smallest RSA modulus trusted (NIST SP 800-131A).
const minRSABits = 2048

// key is one verification key and the one algorithm it is trusted for.
type key struct {
	alg string
	pub any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// startKeys readies the key set's cache and fetches the set once.
func (v *Verifier) startKeys(ctx context.Context) {
	client := &http.Client{}
	if v.cfg.HTTPClient != nil {
		*client = *v.cfg.HTTPClient
	}
	// A redirect could lead anywhere, plain http included.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	v.cfg.HTTPClient = client
	u, _ := url.Parse(v.cfg.JWKSURL) // checked by withDefaults
	v.url = u.Redacted()
	v.keys.Store(&map[string]key{})
	v.update(ctx, ctx, time.Now(), false)
}

// update fetches the key set, or waits (as long as ctx lasts) for the fetch
// under way. limited skips the fetch when one started within the retry
// interval before now. The fetch itself runs under fetchCtx, bounded by the
// timeout: a request that started it may leave, the others wait for it.
func (v *Verifier) update(ctx, fetchCtx context.Context, now time.Time, limited bool) {
	v.mu.Lock()
	if done := v.flight; done != nil {
		v.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return
	}
	if limited && !v.attempted.IsZero() && now.Sub(v.attempted) < v.cfg.JWKSRetry {
		v.mu.Unlock()
		return
	}
	done := make(chan struct{})
	v.flight, v.attempted = done, now
	v.mu.Unlock()

	keys, skipped, err := v.fetch(fetchCtx)

	v.mu.Lock()
	v.settle(keys, skipped, err)
	v.flight = nil
	v.mu.Unlock()
	close(done)
}

// settle records a fetch's outcome and logs what changed; mu is held.
func (v *Verifier) settle(keys map[string]key, skipped string, err error) {
	v.h.Fetches++
	if err != nil {
		v.h.FetchErrors++
		v.h.Error = err.Error()
		if !v.h.Stale {
			v.cfg.Logger.Warn("auth: key set fetch failed: tokens are checked with the keys fetched before",
				"url", v.url, "keys", v.h.Keys, "fetched", v.h.Fetched, "err", err)
		}
		v.h.Stale = true
		return
	}
	if v.h.Stale {
		v.cfg.Logger.Info("auth: key set fetched again", "url", v.url, "keys", len(keys))
	}
	if skipped != v.skipped && skipped != "" {
		v.cfg.Logger.Warn("auth: key set holds keys that are not trusted", "url", v.url, "skipped", skipped)
	}
	v.keys.Store(&keys)
	v.skipped = skipped
	v.h.Keys, v.h.Stale, v.h.Error, v.h.Fetched = len(keys), false, "", time.Now()
}

// fetch reads and parses the key set.
func (v *Verifier) fetch(ctx context.Context) (map[string]key, string, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.JWKSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("key set answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.cfg.JWKSMaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read key set: %w", err)
	}
	if int64(len(body)) > v.cfg.JWKSMaxBytes {
		return nil, "", fmt.Errorf("key set larger than %d bytes", v.cfg.JWKSMaxBytes)
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

// Run refreshes the key set every Config.JWKSRefresh (every JWKSRetry while
// fetches fail) until ctx ends; it returns nil, at once without a key set.
func (v *Verifier) Run(ctx context.Context) error {
	if v == nil || v.cfg.JWKSURL == "" {
		return nil
	}
	for {
		next := v.cfg.JWKSRefresh
		if v.Health().Stale {
			next = v.cfg.JWKSRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(next):
			v.update(ctx, ctx, time.Now(), false)
		}
	}
}
