package auth

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Mode says whether a wait needs a token (JOBWAIT_AUTH).
type Mode string

// The modes (see the package doc). The zero Mode is Off.
const (
	Off      Mode = "off"
	Optional Mode = "optional"
	Required Mode = "required"
)

// ParseMode reads off, optional or required; "" is Off.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return Off, nil
	case Off, Optional, Required:
		return m, nil
	}
	return "", fmt.Errorf("auth mode %q: want off, optional or required", s)
}

// The defaults of Config's zero values, and the fixed limits.
const (
	DefaultAudience     = "jobwait"
	DefaultLeeway       = 30 * time.Second // the clock skew allowed on exp and nbf
	DefaultJWKSTimeout  = 5 * time.Second  // bounds one fetch of the key set, connection included
	DefaultJWKSMaxBytes = 256 << 10        // bounds the key set's body (a hundred RSA keys: 50 KB)
	DefaultJWKSRefresh  = 15 * time.Minute // how often Run fetches the key set
	DefaultJWKSRetry    = time.Minute      // the least time between fetches for unknown kids, and Run's retries
	MinSecretLen        = 32               // the shortest HS256 secret: RFC 7518 §3.2 wants 256 bits
	MaxTokenLen         = 8 << 10          // bounds a token before it is decoded (fifty ids: about 4 KB)
)

// Config is how tokens are checked. Exactly one of Secret and JWKSURL is
// set unless Mode is Off, where neither is.
type Config struct {
	Mode     Mode
	Secret   Secret        // the HS256 key shared with the Event Service, at least MinSecretLen bytes
	JWKSURL  string        // the Event Service's JSON Web Key Set: https, or http to loopback only
	Audience string        // "" is DefaultAudience
	Issuer   string        // "": iss is not checked
	Leeway   time.Duration // the clock skew allowed on exp and nbf; 0 is DefaultLeeway

	// HTTPClient fetches the key set; nil is a client of the package's own.
	// A copy is used, with redirects refused.
	HTTPClient   *http.Client
	JWKSTimeout  time.Duration // 0 is DefaultJWKSTimeout
	JWKSMaxBytes int64         // 0 is DefaultJWKSMaxBytes
	JWKSRefresh  time.Duration // 0 is DefaultJWKSRefresh
	JWKSRetry    time.Duration // 0 is DefaultJWKSRetry
	Logger       *slog.Logger  // nil is slog.Default()
}

// Secret is an HS256 key. It prints, logs and marshals as REDACTED.
type Secret []byte

// String is REDACTED, or "" for no secret.
func (s Secret) String() string {
	if len(s) == 0 {
		return ""
	}
	return Redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue is String, for slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText is String, for JSON and YAML.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Validate reports the first setting of c that does not fit the others,
// as New would, without fetching anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills the zero values and refuses settings that do not fit
// together, naming the settings as an operator knows them.
func (c Config) withDefaults() (Config, error) {
	c.Mode = cmp.Or(c.Mode, Off)
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return c, err
	}
	c.Audience = cmp.Or(strings.TrimSpace(c.Audience), DefaultAudience)
	c.Issuer = strings.TrimSpace(c.Issuer)
	c.JWKSURL = strings.TrimSpace(c.JWKSURL)
	c.Leeway = cmp.Or(c.Leeway, DefaultLeeway)
	c.JWKSTimeout = cmp.Or(c.JWKSTimeout, DefaultJWKSTimeout)
	c.JWKSRefresh = cmp.Or(c.JWKSRefresh, DefaultJWKSRefresh)
	c.JWKSRetry = cmp.Or(c.JWKSRetry, DefaultJWKSRetry)
	c.JWKSMaxBytes = cmp.Or(c.JWKSMaxBytes, DefaultJWKSMaxBytes)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	switch {
	case c.Leeway < 0 || c.JWKSTimeout < 0 || c.JWKSRefresh < 0 || c.JWKSRetry < 0 || c.JWKSMaxBytes < 0:
		return c, errors.New("auth: a negative duration or size")
	case c.Mode == Off && (len(c.Secret) > 0 || c.JWKSURL != ""):
		// A key with the mode off would look like protection and be none.
		return c, errors.New("auth: JOBWAIT_AUTH is off but a key is set: set JOBWAIT_AUTH to required (or optional), or remove the key")
	case c.Mode == Off:
		return c, nil
	case len(c.Secret) > 0 && c.JWKSURL != "":
		return c, errors.New("auth: both JOBWAIT_AUTH_SECRET and JOBWAIT_AUTH_JWKS_URL are set: set one (a secret for HS256, or a key set for RS256, ES256, EdDSA)")
	case len(c.Secret) == 0 && c.JWKSURL == "":
		return c, fmt.Errorf("auth: JOBWAIT_AUTH is %s but no key is set: set JOBWAIT_AUTH_SECRET (HS256) or JOBWAIT_AUTH_JWKS_URL", c.Mode)
	case c.JWKSURL == "" && len(c.Secret) < MinSecretLen:
		// The length only: the secret itself is never repeated.
		return c, fmt.Errorf("auth: JOBWAIT_AUTH_SECRET is %d bytes: want at least %d (random, e.g. openssl rand -base64 48)", len(c.Secret), MinSecretLen)
	case c.JWKSURL != "":
		return c, checkJWKSURL(c.JWKSURL)
	}
	return c, nil
}

// checkJWKSURL refuses a key set URL that anyone on the path could answer:
// whoever serves the keys can mint tokens.
func checkJWKSURL(raw string) error {
	const want = "want an absolute URL such as https://events.example/.well-known/jwks.json"
	u, err := url.Parse(raw)
	if err != nil {
		// Not repeated: a URL that does not parse cannot have its password hidden.
		return errors.New("auth: JOBWAIT_AUTH_JWKS_URL does not parse: " + want)
	}
	if u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("auth: JOBWAIT_AUTH_JWKS_URL %q: %s", u.Redacted(), want)
	}
	h := u.Hostname()
	if u.Scheme == "https" || u.Scheme == "http" && (h == "localhost" || net.ParseIP(h).IsLoopback()) {
		return nil
	}
	return fmt.Errorf("auth: JOBWAIT_AUTH_JWKS_URL %q: want https (plain http only to a loopback address: whoever answers it can mint tokens)", u.Redacted())
}
