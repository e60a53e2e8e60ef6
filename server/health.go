package server

import (
	"cmp"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/auth"
	"jobwait/stream"
)

// healthz answers 200 while the process serves.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString("ok")
}

// RedisHealth is what jobwait last learnt of Redis by trying what its
// requests need (see Config.Redis).
type RedisHealth struct {
	// State is "up"; "down" when Redis does not answer, too slowly, or not
	// as Redis (a TLS failure, LOADING); "refused" when it answers but
	// refuses a read that requests need (an ACL).
	State   string
	Reason  string   // why, when State is not "up"
	Missing []string // the permissions Redis refuses jobwait now, each with what it costs
}

// readiness is /readyz's body.
type readiness struct {
	Status        string        `json:"status"`            // ok | degraded | unavailable
	Redis         string        `json:"redis"`             // up | down | refused
	Subscription  string        `json:"subscription"`      // up | down (poll mode: the poller reaches Redis)
	Notify        string        `json:"notify"`            // keyspace | poll | "" until chosen
	Notifications string        `json:"notifications"`     // ok | blind: changes were missed (see stream.Hub.Blind)
	Blind         string        `json:"blind,omitempty"`   // why, when blind
	Missing       []string      `json:"missing,omitempty"` // Redis permissions lacking, each with its cost (ACL)
	Reason        string        `json:"reason,omitempty"`  // why the status is not ok
	Auth          authReadiness `json:"auth"`              // the wait token keys
}

// readyz answers 200 when Redis answers the reads requests need, the hub
// learns of every change (subscription live, or polling) and wait tokens
// can be checked, 503 otherwise; it never waits on Redis (Config.Redis).
// "degraded" is still 200: a blind hub re-reads watched jobs at the poll
// interval, and every replica on the same Redis is equally blind, so a 503
// would take them all out of rotation at once; a missing permission whose
// cost is a fallback is listed and serving goes on; a stale key set still
// checks tokens with the keys fetched before.
func (s *Server) readyz(c *fiber.Ctx) error {
	r, code := s.readiness()
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(r)
}

// readiness is what /readyz says now, and its status code.
func (s *Server) readiness() (readiness, int) {
	h := s.redisHealth()
	st := s.hub.Stats()
	ready := s.hub.Ready()
	keys := s.cfg.Auth.Health()
	r := readiness{Status: "ok", Redis: h.State, Subscription: "up", Notify: string(s.hub.Mode()), Notifications: "ok", Missing: h.Missing,
		Auth: authReadiness{Mode: keys.Mode, Source: keys.Source, Stale: keys.Stale, Error: keys.Error}}
	if keys.Source == auth.SourceJWKS {
		r.Auth.Keys = &keys.Keys
	}
	if !keys.Fetched.IsZero() {
		r.Auth.Fetched = keys.Fetched.UTC().Format(time.RFC3339)
	}
	if st.Blind {
		r.Notifications, r.Blind = "blind", st.BlindReason
	}
	if !ready {
		r.Subscription = "down"
	}
	switch {
	case h.State != "up":
		r.Status, r.Reason = "unavailable", h.Reason
	case !ready:
		r.Status, r.Reason = "unavailable", notListening(st)
	case !keys.Ready() && keys.Fetched.IsZero():
		r.Status, r.Reason = "unavailable", "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) has not been fetched yet: "+keys.Error
	case !keys.Ready():
		r.Status, r.Reason = "unavailable", "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) holds no usable key"
	case st.Blind:
		r.Status, r.Reason = "degraded", "notifications missed: "+st.BlindReason
	case keys.Stale:
		r.Status, r.Reason = "degraded", fmt.Sprintf("wait token key set stale: its last fetch failed (%s); tokens are checked with the %d keys fetched at %s",
			keys.Error, keys.Keys, keys.Fetched.UTC().Format(time.RFC3339))
	}
	if r.Status == "unavailable" {
		return r, fiber.StatusServiceUnavailable
	}
	return r, fiber.StatusOK
}

// authReadiness is /readyz's account of the wait token keys (auth.Health).
type authReadiness struct {
	Mode    auth.Mode   `json:"mode"`              // off | optional | required
	Source  auth.Source `json:"source"`            // none | secret | jwks
	Keys    *int        `json:"keys,omitempty"`    // a key set's keys trusted now
	Fetched string      `json:"fetched,omitempty"` // RFC 3339, when the key set was last fetched whole
	Stale   bool        `json:"stale,omitempty"`   // the last fetch failed: Fetched's keys serve
	Error   string      `json:"error,omitempty"`   // why
}

// notListening says why a hub does not learn of every change.
func notListening(st stream.Stats) string {
	why := cmp.Or(st.Down, "not yet")
	switch st.Mode {
	case stream.Keyspace:
		return "the keyspace subscription is not live: " + why
	case stream.Poll:
		return "polling redis fails: " + why
	}
	return "waiting for redis to choose the notify mode"
}

// redisHealth is Config.Redis's last finding; without it (a server built
// without jobwait's checks) Redis is asked PING now.
func (s *Server) redisHealth() RedisHealth {
	if s.cfg.Redis != nil {
		return s.cfg.Redis()
	}
	ctx, cancel := s.redisCtx()
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return RedisHealth{State: "down", Reason: err.Error()}
	}
	return RedisHealth{State: "up"}
}

// info is what the page needs to know of the server.
func (s *Server) info(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{
		"demo":           s.cfg.Demo != nil,
		"waitBudgetMs":   s.cfg.WaitBudget.Milliseconds(),
		"pollIntervalMs": s.cfg.PollInterval.Milliseconds(),
		"notify":         string(s.hub.Mode()),
	})
}
