package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"jobwait/store"
	"jobwait/stream"
)

// Error is an answer of SPEC.md §3's form {"code","message"}.
type Error struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"-"` // seconds; 0 sends no Retry-After
}

// Error returns the code and message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The errors jobwait answers with.
var (
	ErrJobNotFound  = &Error{Status: 404, Code: "JOB_001", Message: "Job을 찾을 수 없습니다"}
	ErrBadJobID     = &Error{Status: 400, Code: "JOB_002", Message: "잘못된 Job ID입니다: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다"}
	ErrNoResult     = &Error{Status: 502, Code: "JOB_003", Message: "완료된 Job의 결과를 읽을 수 없습니다"}
	ErrUnavailable  = &Error{Status: 503, Code: "SVC_002", Message: "Redis에 연결할 수 없습니다. 잠시 후 다시 시도해주세요", RetryAfter: 2}
	ErrRouteUnknown = &Error{Status: 404, Code: "REQ_003", Message: "요청한 경로가 없습니다"}
	ErrMethod       = &Error{Status: 405, Code: "REQ_002", Message: "허용되지 않는 메서드입니다"}
	ErrInternal     = &Error{Status: 500, Code: "INT_001", Message: "서버 내부 오류입니다"}
)

// clientGone answers a request whose connection failed; nobody reads it.
var clientGone = &Error{Status: 400, Code: "REQ_004", Message: "잘못된 요청입니다"}

// badParam is REQ_001 for one query parameter.
func badParam(msg string) *Error {
	return &Error{Status: 400, Code: "REQ_001", Message: msg}
}

// tooManyWaiters is SVC_001, asking the client to come back after retry seconds.
func tooManyWaiters(retry int) *Error {
	return &Error{Status: 503, Code: "SVC_001", Message: "대기 중인 요청이 너무 많습니다. 잠시 후 다시 시도해주세요", RetryAfter: retry}
}

// tooManyFromClient is SVC_001 for a client that holds its share of
// waiters (Config.MaxWaitersPerIP): the same answer as a full server, so
// that clients back off and retry the same way.
func tooManyFromClient(retry int) *Error {
	return &Error{Status: 503, Code: "SVC_001", Message: "이 주소에서 대기 중인 요청이 너무 많습니다. 잠시 후 다시 시도해주세요", RetryAfter: retry}
}

// toError maps any error to the answer the client sees; internal details are
// logged, never sent.
func toError(err error, log *slog.Logger) *Error {
	var e *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return ErrJobNotFound
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrNoResult):
		log.Debug("unreadable job data", "err", err)
		return ErrNoResult
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, stream.ErrClosed):
		log.Debug("redis unavailable", "err", err) // the hub logs an outage once
		return ErrUnavailable
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusNotFound:
			return ErrRouteUnknown
		case fiber.StatusMethodNotAllowed:
			return ErrMethod
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return &Error{Status: fe.Code, Code: "REQ_004", Message: badRequestMessage(fe.Code)}
		}
		if fe.Code == fiber.StatusBadGateway {
			// fiber's name for a network error on the client's own
			// connection (reset, closed mid-request): nothing to report.
			log.Debug("client connection failed", "err", err)
			return clientGone
		}
	}
	log.Error("request failed", "err", err)
	return ErrInternal
}

// badRequestMessage says what was wrong with a request fasthttp refused
// before any handler ran.
func badRequestMessage(code int) string {
	switch code {
	case fiber.StatusRequestTimeout:
		return "요청을 제한 시간 안에 다 보내지 않았습니다"
	case fiber.StatusRequestEntityTooLarge:
		return "요청 본문이 너무 큽니다"
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return "요청 줄 또는 헤더가 너무 깁니다"
	}
	return "잘못된 요청입니다"
}

// unknownMethods answers a method fiber does not know (PROPFIND, BREW)
// ahead of fiber, which would answer it in plain text: 405 REQ_002, as any
// other method jobwait does not serve.
func unknownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
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
		body, _ := json.Marshal(ErrMethod)
		ctx.SetBody(body)
	}
}

// errorHandler is the app's one error handler: every error becomes JSON.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := toError(err, s.log)
	return sendError(c, e)
}

func sendError(c *fiber.Ctx, e *Error) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	return c.Status(e.Status).JSON(e)
}
