package server

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// status answers GET /api/events/jobs/{jobId}/status: a short poll, or a
// long poll when wait asks for one.
func (s *Server) status(c *fiber.Ctx, id string) error {
	wait, err := parseWait(c.Query("wait"), s.cfg.WaitBudget)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.longPoll(c, id, wait)
	}
	a, err := s.read(c, id)
	if err != nil {
		return err
	}
	return s.send(c, a, a.Body)
}

// read reads one job for a short poll.
func (s *Server) read(c *fiber.Ctx, id string) (*Answer, error) {
	ctx, cancel := withTimeout(c, s.cfg.RedisTimeout)
	defer cancel()
	answers, err := ReadAnswers(s.store)(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return answers[0], nil
}

// send writes an answer with body (its own, or with timedOut added). A job
// still running tells the client when to ask again.
func (s *Server) send(c *fiber.Ctx, a *Answer, body []byte) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !a.Final() {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(s.retryAfter()))
	}
	c.Status(a.Code)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// withTimeout is the request's context bounded by d.
func withTimeout(c *fiber.Ctx, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), d)
}
