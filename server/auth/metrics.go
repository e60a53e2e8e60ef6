package auth

// The metrics of wait tokens, named here so that the server, the alert
// rules and the dashboard agree. MetricRejections counts refusals by
// LabelCode and LabelReason, every pair made at start. The JWKS ones are
// read from Health at scrape time (0 with a secret or the mode Off):
// MetricJWKSStale is Health.Stale, MetricJWKSKeys the keys held,
// MetricJWKSFetches the fetches by LabelResult ("ok", "error").
const (
	MetricRejections  = "jobwait_auth_rejections_total"
	MetricJWKSStale   = "jobwait_auth_jwks_stale"
	MetricJWKSKeys    = "jobwait_auth_jwks_keys"
	MetricJWKSFetches = "jobwait_auth_jwks_fetches_total"

	LabelCode   = "code"
	LabelReason = "reason"
	LabelResult = "result"
)
