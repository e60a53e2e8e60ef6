package server

import (
	"github.com/gofiber/fiber/v2"
)

// healthz answers 200 while the process serves.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString("ok")
}

// readiness is /readyz's body.
type readiness struct {
	Status        string `json:"status"`          // ok | degraded | unavailable
	Redis         string `json:"redis"`           // up | down
	Subscription  string `json:"subscription"`    // up | down (poll mode: the poller reaches Redis)
	Notify        string `json:"notify"`          // keyspace | poll | "" until chosen
	Notifications string `json:"notifications"`   // ok | blind: changes were missed (see stream.Hub.Blind)
	Blind         string `json:"blind,omitempty"` // why, when blind
	// Missing lists the Redis permissions jobwait lacks and what each
	// costs (ACL); absent when none is.
	Missing []string `json:"missing,omitempty"`
}

// readyz answers 200 when Redis answers and the hub learns of every change
// (subscription live, or polling), 503 otherwise. A hub caught blind
// (notifications switched off or narrowed, a flush) is "degraded" but
// still 200: it re-reads watched jobs at the poll interval, so answers stay
// right within the poll interval, and every replica on the same Redis is
// equally blind, so a 503 would take them all out of rotation at once.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := s.redisCtx()
	defer cancel()
	r := readiness{Status: "ok", Redis: "up", Subscription: "up", Notify: string(s.hub.Mode()), Notifications: "ok"}
	if s.cfg.Missing != nil {
		r.Missing = s.cfg.Missing()
	}
	if st := s.hub.Stats(); st.Blind {
		r.Status, r.Notifications, r.Blind = "degraded", "blind", st.BlindReason
	}
	if err := s.store.Ping(ctx); err != nil {
		r.Redis = "down"
	}
	if !s.hub.Ready() {
		r.Subscription = "down"
	}
	code := fiber.StatusOK
	if r.Redis == "down" || !s.hub.Ready() {
		r.Status, code = "unavailable", fiber.StatusServiceUnavailable
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(r)
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
