package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/auth"
)

// status answers GET /api/events/jobs/{jobId}/status and the many-job
// /api/events/jobs/status?ids=…: a short poll, or a long poll when wait
// asks for one, held no longer than grant allows.
func (s *Server) status(c *fiber.Ctx, ids []string, one bool, grant auth.Grant) error {
	wait, err := parseWait(c.Query("wait"), s.cfg.WaitBudget)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.longPoll(c, ids, one, grant.Deadline(time.Now().Add(wait)))
	}
	as, err := s.read(ids)
	if err != nil {
		return err
	}
	return s.sendAll(c, ids, as, one)
}

// read reads jobs for a short poll through the hub: a job someone waits
// for is answered from the hub's knowledge, and concurrent polls share
// batched, coalesced reads. A short poll holds no subscription (Peek).
func (s *Server) read(ids []string) ([]*Answer, error) {
	as := make([]*Answer, len(ids))
	err := s.eachJob(ids, func(ctx context.Context, i int, id string) (err error) {
		as[i], err = s.hub.Peek(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return as, nil
}

// sendAll answers at once: the one-job URL with its job's answer, the
// many-job one with {"jobs":[…]}.
func (s *Server) sendAll(c *fiber.Ctx, ids []string, as []*Answer, one bool) error {
	if one {
		return s.send(c, as[0])
	}
	return s.reply(c, &Answer{Code: fiber.StatusOK, Body: manyBody(ids, as, false)}, s.manyRetry(as))
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
