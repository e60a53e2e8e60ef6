// Package auth decides who may wait for which job: it checks, in-process,
// the signed wait tokens of SPEC.md §9 (docs/auth.md) that the Event Service
// mints with each job.
//
// A token is a JWS compact JWT of at most MaxTokenLen bytes. With
// Config.Secret only HS256 is accepted; with Config.JWKSURL, RS256 (RSA of
// at least 2048 bits), ES256 (P-256) and EdDSA (Ed25519), each only with a
// key of its own type named by kid. So alg none, algorithm confusion, keys
// offered by the token (jwk, jku, x5u: ignored) and crit headers are all
// refused. exp is required, aud must hold Config.Audience, iss must equal
// Config.Issuer when set, nbf is honoured, exp and nbf get Config.Leeway;
// a request is allowed only if every job it names is in the jobs claim.
// Parsing and signatures are golang-jwt/jwt/v5's; JWKs are read by
// MicahParks/jwkset.
//
// Check (or Authorize, which first takes the token from the request with
// Extract) returns a Grant whose Expires is the token's exp: no wait
// outlives its token. A refusal is an *Error, errors.Is ErrUnauthorized
// (AUTH_001, 401) or ErrForbidden (AUTH_002, 403); its Reason is for the
// log and the metric, never for the client. No error, log line or metric
// label holds a token or a part of one; Redact removes the token from a URI
// before it is logged.
//
// Off looks at nothing, not even a malformed Authorization header.
// Optional serves a request without a token as Off does and checks one that
// is sent. Required refuses a request without one.
//
// A Verifier is safe for concurrent use, and Check takes no lock unless a
// kid is not in the cache. The key set is fetched by New (once), by Run
// (every JWKSRefresh) and by a request with an unknown kid, at most once
// per JWKSRetry (later ones within it are refused at once). One fetch runs
// at a time: others wait for it (or their own context), and a fetch a
// request started is not cancelled when it leaves. A fetch reads at most
// JWKSMaxBytes, follows no redirect and needs https (http to loopback
// only). A set that parses replaces the cache whole, so a removed key stops
// being trusted; keys that cannot be trusted are left out and logged. A
// failed fetch keeps the cache: Health says Stale until a fetch succeeds,
// and Run retries every JWKSRetry. Health().Ready() is false only while a
// key set verifier holds no key.
//
// Run is the package's only goroutine, started, cancelled and waited for by
// its caller. Without it, a key removed from the set stays trusted.
package auth
