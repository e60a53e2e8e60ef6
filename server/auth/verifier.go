package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jobwait/store"
)

// Verifier checks wait tokens. Its zero value is not usable; a nil *Verifier is Off.
type Verifier struct {
	cfg     Config             // with defaults; HTTPClient refuses redirects
	methods []string           // the algorithms the configured key admits
	opts    []jwt.ParserOption // every option but the clock

	// The key set's cache (jwks.go). Reads are lock-free (an atomic pointer
	// to an immutable map); one fetch runs at a time and every request that
	// needs it waits for that one.
	keys atomic.Pointer[map[string]key]
	url  string // JWKSURL as logged: its password hidden

	mu        sync.Mutex    // guards what follows
	flight    chan struct{} // closed when the fetch under way ends; nil: none
	attempted time.Time     // the start of the last fetch
	skipped   string        // the keys the last fetch left out, and why
	h         Health
}

// Grant is what a request's token allows beyond its jobs: how long.
type Grant struct {
	Expires time.Time // the token's exp; zero when no token was checked
}

// Deadline is the earlier of the wait's own deadline and the token's expiry.
func (g Grant) Deadline(deadline time.Time) time.Time {
	if !g.Expires.IsZero() && g.Expires.Before(deadline) {
		return g.Expires
	}
	return deadline
}

// Source is where the keys come from.
type Source string

// The sources of Health.
const (
	SourceNone   Source = "none"   // the mode is Off
	SourceSecret Source = "secret" // HS256 with JOBWAIT_AUTH_SECRET
	SourceJWKS   Source = "jwks"   // JOBWAIT_AUTH_JWKS_URL
)

// Health is the state of the keys, for /readyz's details and the metrics.
type Health struct {
	Mode        Mode
	Source      Source
	Keys        int       // JWKS: the keys trusted now
	Fetched     time.Time // when the key set was last fetched whole; zero if never
	Stale       bool      // the last fetch failed (Error says why): tokens are checked with Fetched's keys
	Error       string
	Fetches     uint64 // fetches of the key set, failed ones included
	FetchErrors uint64
}

// Ready reports whether tokens can be checked at all: false only with a key
// set that holds no usable key (or was never fetched).
func (h Health) Ready() bool { return h.Source != SourceJWKS || h.Keys > 0 }

// claims is a wait token's payload.
type claims struct {
	jwt.RegisteredClaims
	Jobs []string `json:"jobs"`
}

// New checks cfg and returns its Verifier. With a key set it fetches the
// set once; a failed fetch is logged and reported by Health, not returned.
// Errors are settings that do not fit together.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: c, h: Health{Mode: c.Mode, Source: SourceNone}}
	switch {
	case c.Mode == Off:
		return v, nil
	case c.JWKSURL == "":
		v.h.Source, v.methods = SourceSecret, []string{jwt.SigningMethodHS256.Alg()}
		v.cfg.Secret = slices.Clone(c.Secret)
	default:
		v.h.Source = SourceJWKS
		v.methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
		v.startKeys(ctx)
	}
	v.opts = []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithAudience(c.Audience),
		jwt.WithIssuer(c.Issuer), // "": iss is not checked
		jwt.WithLeeway(c.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
	}
	return v, nil
}

// Mode is the verifier's mode.
func (v *Verifier) Mode() Mode {
	if v == nil {
		return Off
	}
	return v.cfg.Mode
}

// Health is the state of the keys.
func (v *Verifier) Health() Health {
	if v == nil {
		return Health{Mode: Off, Source: SourceNone}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.h
}

// Authorize is Extract, then Check; with the mode Off it looks at nothing.
func (v *Verifier) Authorize(ctx context.Context, authorization string, accessTokens []string, ids []string, now time.Time) (Grant, error) {
	if v.Mode() == Off {
		return Grant{}, nil
	}
	token, err := Extract(authorization, accessTokens)
	if err != nil {
		return Grant{}, err
	}
	return v.Check(ctx, token, ids, now)
}

// Check verifies token at now and that it lists every one of ids. An empty
// token is allowed (a zero Grant) with the mode Optional and refused with
// Required; with Off everything is allowed. A kid not in the key set may
// wait for one fetch of the set (Config.JWKSTimeout, or until ctx ends).
func (v *Verifier) Check(ctx context.Context, token string, ids []string, now time.Time) (Grant, error) {
	switch {
	case v.Mode() == Off, token == "" && v.cfg.Mode == Optional:
		return Grant{}, nil
	case token == "":
		return Grant{}, refuse(ReasonMissing, nil)
	case len(token) > MaxTokenLen:
		return Grant{}, refuse(ReasonMalformed, fmt.Errorf("token of %d bytes: at most %d", len(token), MaxTokenLen))
	}
	var c claims
	p := jwt.NewParser(append(v.opts[:len(v.opts):len(v.opts)], jwt.WithTimeFunc(func() time.Time { return now }))...)
	tok, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return v.key(ctx, t, now) })
	if err != nil {
		return Grant{}, v.refusal(tok, err)
	}
	if slices.ContainsFunc(c.Jobs, func(id string) bool { return !store.ValidID(id) }) {
		return Grant{}, refuse(ReasonClaims, errors.New("jobs holds a string that is not a job id"))
	}
	for _, id := range ids {
		if !slices.Contains(c.Jobs, id) {
			return Grant{}, refuse(ReasonJobs, fmt.Errorf("job %s is not in the token's %d jobs", id, len(c.Jobs)))
		}
	}
	return Grant{Expires: c.ExpiresAt.Time}, nil
}

// Errors of key: each becomes a Reason in refusal.
var (
	errUnknownKID = errors.New("no key of this kid in the key set") // even after the refresh allowed
	errCritical   = errors.New("crit header: no extension is understood")
	errNoKID      = errors.New("no kid: a key set needs the token to name its key")
	errKeyAlg     = errors.New("alg is not the algorithm of the key named by kid")
)

// key is the jwt.Keyfunc: the key for t, whose alg the parser has found in v.methods.
func (v *Verifier) key(ctx context.Context, t *jwt.Token, now time.Time) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a token that needs an extension we lack is refused.
		return nil, errCritical
	}
	if v.cfg.JWKSURL == "" {
		return []byte(v.cfg.Secret), nil
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errNoKID
	}
	k, ok := (*v.keys.Load())[kid]
	if !ok {
		// Not in the cache: fetch the set once more, unless a fetch started
		// within the retry interval before now.
		v.update(ctx, context.WithoutCancel(ctx), now, true)
		if k, ok = (*v.keys.Load())[kid]; !ok {
			return nil, errUnknownKID
		}
	}
	if t.Method.Alg() != k.alg {
		return nil, errKeyAlg
	}
	return k.pub, nil
}

// refusal maps the JWT library's error (and key's) to a refusal.
func (v *Verifier) refusal(tok *jwt.Token, err error) *Error {
	switch {
	case errors.Is(err, errUnknownKID), errors.Is(err, errNoKID):
		return refuse(ReasonKID, err)
	case errors.Is(err, errCritical), errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformed, err)
	case errors.Is(err, errKeyAlg), tok != nil && (tok.Method == nil || !slices.Contains(v.methods, tok.Method.Alg())):
		// Also alg none, an algorithm the library lacks, or one the key does not admit.
		return refuse(ReasonAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ReasonSignature, err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(ReasonAudience, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(ReasonIssuer, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse(ReasonNotYetValid, err)
	}
	return refuse(ReasonClaims, err)
}
