// Package auth decides who may wait for which job: it checks, in-process,
// the signed wait tokens of SPEC.md §9 (docs/auth.md) that the Event Service
// mints with each job.
//
// A token is a JWS compact JWT of at most MaxTokenLen bytes. Config.Secret
// admits HS256 only; Config.JWKSURL admits RS256 (RSA of at least 2048
// bits), ES256 (P-256) and EdDSA (Ed25519), each only with a key of its own
// type named by kid. So alg none, algorithm confusion, keys offered by the
// token (jwk, jku, x5u: ignored) and crit headers are refused. exp is
// required, aud must hold Config.Audience, iss must equal Config.Issuer when
// set, nbf is honoured, both with Config.Leeway; every job a request names
// must be in the jobs claim. Parsing and signatures are golang-jwt/jwt/v5's;
// JWKs are read by MicahParks/jwkset.
//
// Check (Authorize: Extract, then Check) returns a Grant whose Expires is
// the token's exp: no wait outlives its token. A refusal is an *Error,
// errors.Is ErrUnauthorized (AUTH_001, 401) or ErrForbidden (AUTH_002,
// 403), its Reason for the log and the metric only. No error, log line or
// label holds any part of a token; Redact removes it from a URI.
//
// Off looks at nothing, not even a malformed Authorization header; Optional
// serves a request without a token as Off does and checks one that is sent;
// Required refuses a request without one.
//
// A Verifier is safe for concurrent use; Check locks only for a kid not in
// the cache. The key set is fetched by New, by Run every JWKSRefresh, and
// for an unknown kid at most once per JWKSRetry (later requests within it
// are refused at once). One fetch runs at a time: others wait for it (or
// their context), and a request leaving does not cancel it. A fetch reads at
// most JWKSMaxBytes, follows no redirect and needs https (http to loopback
// only). A set that parses replaces the cache whole, so a removed key stops
// being trusted; untrusted keys are left out and logged. A failed fetch
// keeps the cache: Health says Stale until one succeeds, and Run retries
// every JWKSRetry. Health().Ready() is false only while a key set verifier
// holds no key.
//
// Run is the package's only goroutine, owned by its caller; without it a key
// removed from the set stays trusted.
package auth
