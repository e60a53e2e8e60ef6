package auth

import (
	"errors"
	"net/http"
)

// The two refusals, as errors.Is targets of every error Check, Authorize
// and Extract return.
var (
	// ErrUnauthorized is AUTH_001: no token where one is required, or an invalid one.
	ErrUnauthorized = errors.New("wait token refused")
	// ErrForbidden is AUTH_002: a valid token that does not list every job asked for.
	ErrForbidden = errors.New("wait token does not cover the jobs asked for")
)

// The answers' codes and messages (SPEC.md §9). An AUTH_001 answer also
// carries WWW-Authenticate: Challenge.
const (
	CodeUnauthorized    = "AUTH_001"
	CodeForbidden       = "AUTH_002"
	MessageUnauthorized = "유효한 대기 토큰이 필요합니다"
	MessageForbidden    = "이 Job을 기다릴 권한이 없습니다"
	Challenge           = "Bearer"
)

// Reason says why a token was refused, for the log and the rejections
// metric's label (a closed set); the client is told only the code.
type Reason string

// The reasons. Every one but ReasonJobs is AUTH_001.
const (
	ReasonMissing     Reason = "missing"       // no token, and the mode is Required
	ReasonMalformed   Reason = "malformed"     // not a JWS compact token, an Authorization that is not Bearer, too long, a crit header
	ReasonAlgorithm   Reason = "algorithm"     // alg is none, unknown, or not the configured key's
	ReasonKID         Reason = "kid"           // JWKS: no kid, or a kid the key set does not hold (after a refresh)
	ReasonSignature   Reason = "signature"     // the signature does not verify with the key
	ReasonExpired     Reason = "expired"       // exp is past (beyond the leeway)
	ReasonNotYetValid Reason = "not_yet_valid" // nbf is ahead (beyond the leeway)
	ReasonAudience    Reason = "audience"      // aud does not hold the configured audience
	ReasonIssuer      Reason = "issuer"        // iss is not the configured issuer
	ReasonClaims      Reason = "claims"        // exp or aud missing (iss when one is wanted), jobs not an array of job ids
	ReasonJobs        Reason = "jobs"          // AUTH_002: a job asked for is not in jobs
)

// Reasons lists every reason, for the metric's series to exist at zero.
var Reasons = []Reason{ReasonMissing, ReasonMalformed, ReasonAlgorithm, ReasonKID, ReasonSignature,
	ReasonExpired, ReasonNotYetValid, ReasonAudience, ReasonIssuer, ReasonClaims, ReasonJobs}

// Error is a refusal: its Reason and, for the log, the detail. It never
// holds the token or a part of it.
type Error struct {
	Reason Reason
	Err    error // the detail; nil when the reason says it all
}

// answers are the two refusals, by Error.Forbidden.
var answers = map[bool]struct {
	is            error
	status        int
	code, message string
}{
	false: {ErrUnauthorized, http.StatusUnauthorized, CodeUnauthorized, MessageUnauthorized},
	true:  {ErrForbidden, http.StatusForbidden, CodeForbidden, MessageForbidden},
}

// Code is the answer's code for a refusal of this reason.
func (r Reason) Code() string { return answers[r == ReasonJobs].code }

// Forbidden reports whether the refusal is AUTH_002 rather than AUTH_001.
func (e *Error) Forbidden() bool { return e.Reason == ReasonJobs }

// Code is the answer's code: AUTH_001 or AUTH_002.
func (e *Error) Code() string { return e.Reason.Code() }

// Status is the answer's HTTP status: 401 or 403.
func (e *Error) Status() int { return answers[e.Forbidden()].status }

// Message is the answer's message.
func (e *Error) Message() string { return answers[e.Forbidden()].message }

// Error is the code, the reason and the detail, for the log.
func (e *Error) Error() string {
	s := e.Code() + " " + string(e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrUnauthorized) and errors.Is(err, ErrForbidden)
// tell the two refusals apart.
func (e *Error) Is(target error) bool { return target == answers[e.Forbidden()].is }

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

func refuse(r Reason, err error) *Error { return &Error{Reason: r, Err: err} }
