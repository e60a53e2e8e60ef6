package auth

// The metrics of wait tokens, named here so that the server that exports
// them, the alert rules and the dashboard agree.
//
// MetricRejections counts the refusals answered, by LabelCode (AUTH_001,
// AUTH_002) and LabelReason (a Reason); the server makes every pair of
// Reasons with its Reason.Code at start, so the series exist at zero, also
// while the mode is Off. The JWKS metrics are read from Health at scrape
// time: MetricJWKSStale is 1 while the last fetch of the key set failed and
// tokens are checked with the keys fetched before (Health.Stale),
// MetricJWKSKeys the keys held, MetricJWKSFetches the fetches by
// LabelResult ("ok", "error"). With a secret or with the mode Off they are
// 0.
const (
	MetricRejections  = "jobwait_auth_rejections_total"
	MetricJWKSStale   = "jobwait_auth_jwks_stale"
	MetricJWKSKeys    = "jobwait_auth_jwks_keys"
	MetricJWKSFetches = "jobwait_auth_jwks_fetches_total"

	LabelCode   = "code"
	LabelReason = "reason"
	LabelResult = "result"
)
