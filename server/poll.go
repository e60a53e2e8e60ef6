package server

import (
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
	a, err := s.read(id)
	if err != nil {
		return err
	}
	return s.send(c, a)
}

// read reads one job for a short poll through the hub: a job someone waits
// for is answered from the hub's knowledge, and concurrent polls share
// batched, coalesced reads.
func (s *Server) read(id string) (*Answer, error) {
	w, a, err := s.watch(id)
	if err != nil {
		return nil, err
	}
	w.Close()
	return a, nil
}

// send writes an answer at once. A job still running tells the client
// when to ask again.
func (s *Server) send(c *fiber.Ctx, a *Answer) error { return s.reply(c, a, s.retryFor(a)) }

// pollRetry is the poll interval in whole seconds, at least one: the
// Retry-After of an answer that asks the client to come back.
func (s *Server) pollRetry() int { return max(1, int(s.cfg.PollInterval/time.Second)) }

// retryFor is the Retry-After of an answer: the poll interval while the job
// is still running, none (0) once it is final.
func (s *Server) retryFor(a *Answer) int {
	if a.Final() {
		return 0
	}
	return s.pollRetry()
}
