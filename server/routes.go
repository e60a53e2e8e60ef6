package server

import (
	"bytes"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"

	"jobwait/server/auth"
	"jobwait/store"
)

// routes mounts the handlers: metrics outermost, then recovery from
// panics, the refusal of a request framed two ways, CORS, the API, and the
// page; anything else is REQ_003.
func (s *Server) routes() {
	a := s.app
	a.Use(s.metrics.count) // outermost: it also counts the panics recover turns into errors
	a.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	a.Use(oneFraming)
	s.cors(a)
	a.All("/api/events/jobs/*", s.jobs)
	a.Post("/api/events/:eventDraftId/ai-recommendations", s.startDemo)
	a.Get("/api/info", s.info)
	a.Get("/healthz", s.healthz)
	a.Get("/readyz", s.readyz)
	a.Get("/metrics", s.metrics.handler)
	s.page(a)
	a.Use(func(c *fiber.Ctx) error { return ErrRouteUnknown })
}

// logPanic logs a handler's panic, which recover then answers INT_001,
// with the request's URI, its wait token redacted.
func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("handler panic", "uri", auth.Redact(c.OriginalURL()), "panic", e)
}

// jobs routes /api/events/jobs/{jobId}/status and /stream, and the
// many-job /api/events/jobs/status?ids=… and /stream?ids=…: both are a
// wait for a list of jobs, the one-job URL's of one (one). The id is cut
// from the path by hand so that an empty id or one with a '/' is a
// JOB_002, not an unknown route. The wait token is checked once the ids
// are read, before anything else is done for them.
func (s *Server) jobs(c *fiber.Ctx) error {
	rest := c.Params("*")
	slash := strings.LastIndexByte(rest, '/')
	action, one := rest[slash+1:], slash >= 0
	if err := jobRoute(c, action); err != nil {
		return err
	}
	var ids []string
	if one {
		c.Locals(routeKey, action)
		if ids = []string{rest[:slash]}; !store.ValidID(ids[0]) {
			return ErrBadJobID
		}
	} else {
		c.Locals(routeKey, action+"-many")
		var err error
		if ids, err = parseIDs(c.Query("ids"), s.cfg.MaxIDs); err != nil {
			return err
		}
	}
	grant, err := s.authorize(c, ids)
	if err != nil {
		return err
	}
	if action == "stream" {
		return s.stream(c, ids, one, grant)
	}
	return s.status(c, ids, one, grant)
}

// jobRoute checks a job URL's action (status or stream; the metrics label
// it is) and method (GET or HEAD).
func jobRoute(c *fiber.Ctx, action string) error {
	if action != "status" && action != "stream" {
		return ErrRouteUnknown
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		c.Set(fiber.HeaderAllow, "GET, HEAD")
		return ErrMethod
	}
	return nil
}

// unknownMethods answers a method fiber does not know (PROPFIND, BREW)
// ahead of fiber, which would answer it in plain text: 405 REQ_002, as any
// other method jobwait does not serve.
func unknownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	body := ErrMethod.answer().Body
	return func(ctx *fasthttp.RequestCtx) {
		m := ctx.Method()
		if slices.ContainsFunc(fiber.DefaultMethods, func(known string) bool { return string(m) == known }) {
			next(ctx)
			return
		}
		if bytes.HasPrefix(ctx.Path(), []byte("/api/events/jobs/")) {
			ctx.Response.Header.Set(fiber.HeaderAllow, "GET, HEAD")
		}
		ctx.Response.Header.Set(fiber.HeaderCacheControl, "no-store")
		ctx.SetContentType(fiber.MIMEApplicationJSON)
		ctx.SetStatusCode(ErrMethod.Status)
		ctx.SetBody(body)
	}
}
