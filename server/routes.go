package server

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	a.Use(s.count) // outermost: it also counts the panics recover turns into errors
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

// jobs routes /api/events/jobs/{jobId}/status and /stream (one), and the
// many-job /api/events/jobs/status?ids=… and /stream?ids=…. The id is cut
// from the path by hand so that an empty id or one with a '/' is JOB_002,
// not an unknown route.
func (s *Server) jobs(c *fiber.Ctx) error {
	rest := c.Params("*")
	slash := strings.LastIndexByte(rest, '/')
	action, one := rest[slash+1:], slash >= 0
	switch {
	case action != "status" && action != "stream":
		return ErrRouteUnknown
	case c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead:
		c.Set(fiber.HeaderAllow, "GET, HEAD")
		return ErrMethod
	}
	var ids []string
	var err error
	if one {
		c.Locals(routeKey, action) // the metrics label
		if ids = []string{rest[:slash]}; !store.ValidID(ids[0]) {
			return ErrBadJobID
		}
	} else {
		c.Locals(routeKey, action+"-many")
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

// authorize checks the wait token of c for ids (SPEC.md §9) before
// anything else is done for them; a held wait then ends by the token's
// expiry (auth.Grant). A refusal is counted by its code and reason.
func (s *Server) authorize(c *fiber.Ctx, ids []string) (auth.Grant, error) {
	v := s.cfg.Auth
	if v.Mode() == auth.Off {
		return auth.Grant{}, nil
	}
	var tokens []string
	for _, t := range c.Context().QueryArgs().PeekMulti(auth.QueryParam) {
		tokens = append(tokens, string(t))
	}
	// A fetch of the key set for an unknown kid ends by its timeout or shutdown.
	g, err := v.Authorize(s.quitCtx, c.Get(fiber.HeaderAuthorization), tokens, ids, time.Now())
	if ae := (*auth.Error)(nil); errors.As(err, &ae) {
		s.metrics.rejections.WithLabelValues(ae.Code(), string(ae.Reason)).Inc()
	}
	return g, err
}

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

// unknownMethods answers a method fiber does not know (PROPFIND, BREW),
// which fiber would answer in plain text: 405 REQ_002, as any other method
// jobwait does not serve.
func unknownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	body := ErrMethod.answer().Body
	return func(ctx *fasthttp.RequestCtx) {
		if slices.Contains(fiber.DefaultMethods, string(ctx.Method())) {
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

// oneFraming refuses, REQ_004, a request whose body could be framed two
// ways (RFC 9112 §6.3): a proxy in front may have taken its end where
// fasthttp did not (fasthttp goes by Transfer-Encoding, then the last
// Content-Length), and what it took for a body be served here as a request
// of its own (request smuggling). Its connection is closed after the
// answer, as the RFC requires, so that nothing behind it is read.
func oneFraming(c *fiber.Ctx) error {
	if !framedTwice(c.Request().Header.RawHeaders()) {
		return c.Next()
	}
	c.Context().SetConnectionClose()
	return errAmbiguousLength
}

// framedTwice reports whether raw (a request's header lines as received)
// frames a body two ways: a Content-Length and a Transfer-Encoding line, or
// Content-Length lines that differ (the same value repeated is one length).
func framedTwice(raw []byte) bool {
	var length []byte
	coding := false
	for line := range bytes.Lines(raw) {
		name, value, ok := bytes.Cut(line, []byte{':'})
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case !ok:
		case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
			coding = true
		case !bytes.EqualFold(name, []byte(fiber.HeaderContentLength)):
		case length == nil:
			length = value
		case !bytes.Equal(length, value):
			return true
		}
	}
	return coding && length != nil
}

// What a wait is read from, each checked before anything else is done:
// its length (parseWait), its jobs (parseIDs), where it resumes (lastEventID).

// maxWaitText bounds the wait parameter's length: nothing longer is a
// sensible duration, and parsing stays cheap.
const maxWaitText = 32

// wellFormed matches what parseWait accepts but for its size: whole
// seconds, or a non-negative Go duration of any number of parts. One that
// does not parse is past int64, and so past the budget: it is the budget.
var wellFormed = regexp.MustCompile(`^[0-9]+$|^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

var errBadWait = badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")

// parseWait reads the wait query parameter: whole seconds ("30") or a Go
// duration ("15s", "1m"). Absent or zero is a short poll (0); more than the
// budget, however far, is the budget; anything else (negative, fractional
// seconds without a unit, garbage) is an error.
func parseWait(s string, budget time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseUint(s, 10, 64); nerr == nil {
		// Clamped before it is multiplied, so that it cannot overflow.
		d, err = time.Duration(min(n, uint64(budget/time.Second)+1))*time.Second, nil
	}
	switch {
	case len(s) > maxWaitText || d < 0 || (err != nil && !wellFormed.MatchString(s)):
		return 0, errBadWait
	case err != nil:
		return budget, nil
	}
	return min(d, budget), nil
}

// parseIDs reads the ids query parameter of the many-job routes: 1 to max
// comma-separated job ids, each valid, none twice. More than max is
// REQ_001, checked before any id is looked at; a bad id is JOB_002.
func parseIDs(s string, max int) ([]string, error) {
	if s == "" {
		return nil, badParam("ids에 기다릴 Job ID를 쉼표로 구분해 적어주세요 (예: ids=a,b,c)")
	}
	if n := strings.Count(s, ",") + 1; n > max {
		return nil, badParam(fmt.Sprintf("ids에는 Job ID를 %d개까지 적을 수 있습니다 (%d개)", max, n))
	}
	ids := strings.Split(s, ",")
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !store.ValidID(id) {
			return nil, badJobID(id)
		}
		if seen[id] {
			return nil, badParam(fmt.Sprintf("ids에 같은 Job ID가 두 번 있습니다: %s", id))
		}
		seen[id] = true
	}
	return ids, nil
}

// badJobID is JOB_002 naming the id (cut to a sensible length, quoted so
// that nothing in it can pass for something else).
func badJobID(id string) *Error {
	if len(id) > store.MaxIDLen {
		id = strings.ToValidUTF8(id[:store.MaxIDLen], "") + "…"
	} else if !utf8.ValidString(id) {
		id = strings.ToValidUTF8(id, "\uFFFD")
	}
	return &Error{Status: ErrBadJobID.Status, Code: ErrBadJobID.Code,
		Message: fmt.Sprintf("잘못된 Job ID입니다: %q: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다", id)}
}

// lastEventID is the id a stream resumes from: the Last-Event-ID header
// (EventSource's own), else ?lastEventId= (a client opening a new one).
func lastEventID(c *fiber.Ctx) string { return cmp.Or(c.Get("Last-Event-ID"), c.Query("lastEventId")) }
