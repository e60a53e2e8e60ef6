package server

import (
	"github.com/gofiber/fiber/v2"

	"jobwait/store"
)

// startDemo answers POST /api/events/{eventDraftId}/ai-recommendations in
// demo mode: it creates a job that the stand-in AI service will finish.
func (s *Server) startDemo(c *fiber.Ctx) error {
	c.Locals(routeKey, "demo")
	if s.cfg.Demo == nil {
		return ErrRouteUnknown
	}
	draft := c.Params("eventDraftId")
	if !store.ValidID(draft) {
		return badParam("잘못된 eventDraftId입니다: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다")
	}
	ctx, cancel := s.redisCtx()
	defer cancel()
	j, err := s.cfg.Demo.Start(ctx, draft)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/events/jobs/"+j.JobID+"/status")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"jobId": j.JobID, "status": j.Status})
}
