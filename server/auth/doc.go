// Package auth decides who may wait for which job: it checks the signed wait
// tokens of SPEC.md §9, which the Event Service mints when it starts a job
// and hands to the client with the job's id. It checks tokens in-process,
// with no call to the Event Service per request.
//
// # What a token must be
//
// A JWS compact JWT (RFC 7519) of at most MaxTokenLen bytes, signed with the
// configured key:
//   - Config.Secret: HS256, and nothing else.
//   - Config.JWKSURL: RS256 with an RSA key of at least 2048 bits, ES256
//     with a P-256 key, EdDSA with an Ed25519 key; the token names its key
//     with kid, and is refused unless its alg is that key's.
//
// So alg none, an HMAC token checked against a public key (the "algorithm
// confusion" attack), a token of another algorithm than its key's, and keys
// offered by the token itself (jwk, jku, x5u headers, which are ignored) are
// all refused. A token with a crit header is refused: no extension is
// understood. Claims: exp is required; aud must hold Config.Audience; iss
// must equal Config.Issuer when one is set; nbf is honoured; exp and nbf are
// given Config.Leeway; jobs is an array of job ids (store.ValidID), and a
// request is allowed only if every job it asks for is in it (an empty or
// missing jobs allows nothing). Parsing and signature checks are
// golang-jwt/jwt/v5's; the key set's keys are read by MicahParks/jwkset.
//
// # What the caller gets
//
// Check (or Authorize, which first takes the token from the request with
// Extract) returns a Grant, whose Expires is the token's exp: the caller
// ends every wait there (Grant.Deadline), so that no wait outlives its
// token. A refusal is an *Error: errors.Is(err, ErrUnauthorized) for
// AUTH_001 (401, with WWW-Authenticate: Bearer), errors.Is(err,
// ErrForbidden) for AUTH_002 (403). Its Reason is for the log and the
// metric, never for the client. No error, log line or metric label of the
// package holds a token or a part of one; Redact removes the token from a
// URI before the caller logs it.
//
// # Modes
//
// Off looks at nothing, not even a malformed Authorization header: every
// request is served as if the package did not exist. Optional serves a
// request without a token as Off does, and checks a token that is sent.
// Required refuses a request without one.
//
// # Keys, caching and concurrency
//
// A Verifier is safe for concurrent use; Check takes no lock on its path
// unless a kid is not in the cache. The key set is fetched by New (once,
// bounded by Config.JWKSTimeout), by Run (every Config.JWKSRefresh), and by
// a request whose kid is not in the set; such fetches start at most once
// per Config.JWKSRetry, later requests with an unknown kid within that time
// are refused at once. One fetch runs at a time: a request that needs the
// set while a fetch is under way waits for that fetch (or its own context),
// and a fetch started by a request is not cancelled when that request goes
// away. A fetch reads at most Config.JWKSMaxBytes, follows no redirect, and
// needs https (http only to a loopback address). A set that is read and
// parsed replaces the cache whole, so a key removed from it stops being
// trusted; keys in it that cannot be trusted (no kid, a kid used twice, not
// for signing, a type or size its algorithm does not take, private key
// material) are left out and logged. A fetch that fails leaves the cache as
// it is: tokens keep being checked with the keys fetched before, and Health
// says Stale (with the error) until a fetch succeeds; Run retries every
// JWKSRetry meanwhile. Health().Ready() is false only while a key set
// verifier holds no key: never fetched, or a set with no usable key.
//
// Goroutines: Run is the only one, started, cancelled and waited for by its
// caller (cmd). Without Run the set is still fetched for unknown kids, but
// a key removed from it stays trusted.
package auth
