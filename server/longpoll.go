package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// longPoll holds GET .../status?wait=N until the job is final, the wait ends
// (the current answer with "timedOut": true) or the server shuts down (the
// current answer). A job that disappears answers JOB_001.
func (s *Server) longPoll(c *fiber.Ctx, id string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	release, err := s.admit("longpoll")
	if err != nil {
		return err
	}
	defer release()
	w, a, err := s.watch(id)
	if err != nil {
		return err
	}
	defer w.Close()

	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for !a.Final() {
		select {
		case <-w.C():
			var at time.Time
			a, at = w.Latest()
			s.metrics.woke(at)
		case <-t.C:
			return s.send(c, a, a.TimedOut())
		case <-s.quit:
			return s.send(c, a, a.Body)
		}
	}
	return s.send(c, a, a.Body)
}
