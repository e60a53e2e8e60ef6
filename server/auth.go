package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"jobwait/server/auth"
)

// Who may wait (SPEC.md §9): every way to wait checks the request's wait
// token for the jobs it names (authorize), once the ids are parsed and
// before anything else (admission, Redis), and a held wait ends at the
// token's expiry if that comes before its own deadline (auth.Grant). Not
// covered: health, readiness, metrics, the page and its scripts,
// /api/info, and the demo's POST, which creates a job and names none
// that a token could list.

// authorize checks the wait token of c for ids with Config.Auth. A
// refusal is counted by its code and reason; the error handler answers it
// (errorFor) and logs why at debug level.
func (s *Server) authorize(c *fiber.Ctx, ids []string) (auth.Grant, error) {
	v := s.cfg.Auth
	if v.Mode() == auth.Off {
		return auth.Grant{}, nil
	}
	var tokens []string
	for _, t := range c.Context().QueryArgs().PeekMulti(auth.QueryParam) {
		tokens = append(tokens, string(t))
	}
	// A fetch of the key set for an unknown kid is bounded by the
	// verifier's timeout, and by shutdown.
	g, err := v.Authorize(s.quitCtx, c.Get(fiber.HeaderAuthorization), tokens, ids, time.Now())
	if ae := (*auth.Error)(nil); errors.As(err, &ae) {
		s.metrics.rejections.WithLabelValues(ae.Code(), string(ae.Reason)).Inc()
	}
	return g, err
}

// authReadiness is /readyz's account of the wait token keys (auth.Health).
type authReadiness struct {
	Mode   auth.Mode   `json:"mode"`   // off | optional | required
	Source auth.Source `json:"source"` // none | secret | jwks
	// Keys is, for a key set, how many keys are trusted now; absent for a
	// secret and with the mode off.
	Keys *int `json:"keys,omitempty"`
	// Fetched is when the key set was last fetched whole (RFC 3339);
	// absent when never.
	Fetched string `json:"fetched,omitempty"`
	// Stale: the last fetch of the key set failed, and tokens are checked
	// with the keys of Fetched; Error says why.
	Stale bool   `json:"stale,omitempty"`
	Error string `json:"error,omitempty"`
}

func newAuthReadiness(h auth.Health) authReadiness {
	r := authReadiness{Mode: h.Mode, Source: h.Source, Stale: h.Stale, Error: h.Error}
	if h.Source == auth.SourceJWKS {
		r.Keys = &h.Keys
	}
	if !h.Fetched.IsZero() {
		r.Fetched = h.Fetched.UTC().Format(time.RFC3339)
	}
	return r
}

// noKeys says why wait tokens cannot be checked at all.
func noKeys(h auth.Health) string {
	if h.Fetched.IsZero() {
		return "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) has not been fetched yet: " + h.Error
	}
	return "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) holds no usable key"
}

// staleKeys says that the key set is stale, and that cached keys serve.
func staleKeys(h auth.Health) string {
	return fmt.Sprintf("wait token key set stale: its last fetch failed (%s); tokens are checked with the %d keys fetched at %s",
		h.Error, h.Keys, h.Fetched.UTC().Format(time.RFC3339))
}

// authCollector exports the key set's gauges and counters, read from the
// verifier's Health at scrape time; with a secret or the mode off they are 0.
type authCollector struct{ v *auth.Verifier }

var (
	descJWKSStale   = prometheus.NewDesc(auth.MetricJWKSStale, "1 while the last fetch of the wait token key set failed and tokens are checked with the keys fetched before.", nil, nil)
	descJWKSKeys    = prometheus.NewDesc(auth.MetricJWKSKeys, "Keys of the wait token key set trusted now.", nil, nil)
	descJWKSFetches = prometheus.NewDesc(auth.MetricJWKSFetches, "Fetches of the wait token key set, by result (ok, error).", []string{auth.LabelResult}, nil)
)

func (a authCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descJWKSStale
	ch <- descJWKSKeys
	ch <- descJWKSFetches
}

func (a authCollector) Collect(ch chan<- prometheus.Metric) {
	h := a.v.Health()
	stale := 0.0
	if h.Stale {
		stale = 1
	}
	ch <- prometheus.MustNewConstMetric(descJWKSStale, prometheus.GaugeValue, stale)
	ch <- prometheus.MustNewConstMetric(descJWKSKeys, prometheus.GaugeValue, float64(h.Keys))
	ch <- prometheus.MustNewConstMetric(descJWKSFetches, prometheus.CounterValue, float64(h.Fetches-h.FetchErrors), "ok")
	ch <- prometheus.MustNewConstMetric(descJWKSFetches, prometheus.CounterValue, float64(h.FetchErrors), "error")
}
