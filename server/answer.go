package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/auth"
	"jobwait/store"
	"jobwait/stream"
)

// DefaultResultGrace is how long a COMPLETED job without a readable result
// is re-read before its waiters are told JOB_003.
const DefaultResultGrace = 2 * time.Second

// Messages of SPEC.md §3.
const (
	msgWaiting = "AI가 분석 중입니다"
	msgRetry   = "다시 시도해주세요"
)

// Answer is one reading of a job, rendered once and shared by every waiter
// of the job: the HTTP status and the JSON body of SPEC.md §3.
type Answer struct {
	Status   store.Status // the job's status; "" when Body is an error
	Code     int          // HTTP status
	Body     []byte
	NoResult bool // JOB_003 of a COMPLETED job: the producer may still be writing its result
	// Draft is the job's eventDraftId as read ("" when unknown): the hub's
	// next read of the job reads that draft's result in the same round trip.
	Draft string
}

// Final reports whether the job will not change any more (COMPLETED or
// FAILED) or cannot be waited for (gone, unreadable).
func (a *Answer) Final() bool { return a.Status.Final() || a.Status == "" }

// TimedOut returns a copy of the body with "timedOut": true added.
func (a *Answer) TimedOut() []byte {
	return slices.Concat(a.Body[:len(a.Body)-1], []byte(`,"timedOut":true}`))
}

// SameAnswer reports whether two answers say the same.
func SameAnswer(a, b *Answer) bool { return a.Code == b.Code && bytes.Equal(a.Body, b.Body) }

// Doubt is the hub's Config.Doubt over answers. A job that was there (prev
// is nil before the first read) and reads as gone is read again
// stream.DefaultConfirmDelay later, since a producer that rewrites a hash
// (Spring's DEL, then HMSET) leaves such a gap; a COMPLETED job without a
// readable result is re-read for up to grace (zero: JOB_003 at once),
// since a producer may write the result a moment after the status.
func Doubt(grace time.Duration) func(prev, next *Answer) time.Duration {
	return func(prev, next *Answer) time.Duration {
		switch {
		case next.NoResult:
			return grace
		case prev != nil && prev.Status != "" && next.Code == fiber.StatusNotFound:
			return stream.DefaultConfirmDelay
		}
		return 0
	}
}

// HubConfig is the hub configuration that reads jobs from st as answers:
// one batched read, one rendered answer per job, each job's known draft
// read with its record, so that a completion costs one round trip.
func HubConfig(st *store.Store) stream.Config[*Answer] {
	read := func(ctx context.Context, ids []string, prev []*Answer) ([]*Answer, error) {
		var drafts []string // made only when a job's draft is known
		for i, a := range prev {
			if a != nil && a.Draft != "" {
				if drafts == nil {
					drafts = make([]string, len(ids))
				}
				drafts[i] = a.Draft
			}
		}
		snaps, err := st.ReadManyWith(ctx, ids, store.Hints{Drafts: drafts})
		if err != nil {
			return nil, err
		}
		out := make([]*Answer, len(snaps))
		for i := range snaps {
			out[i] = render(ids[i], &snaps[i])
			out[i].Draft = snaps[i].Job.EventDraftID
		}
		return out, nil
	}
	return stream.Config[*Answer]{Pattern: store.JobPattern, Keys: store.Keys, JobID: store.IDFromKey,
		Read: read, Same: SameAnswer, Doubt: Doubt(DefaultResultGrace), TTLs: st.TTLs}
}

// stateBody is a running job's body, and with an error a FAILED one's.
type stateBody struct {
	JobID   string       `json:"jobId"`
	Status  store.Status `json:"status"`
	Error   *string      `json:"error,omitempty"`
	Message string       `json:"message"`
}

type completedBody struct {
	JobID           string                 `json:"jobId"`
	Status          store.Status           `json:"status"`
	EventDraftID    string                 `json:"eventDraftId"`
	TrendAnalysis   json.RawMessage        `json:"trendAnalysis"`
	Recommendations []store.Recommendation `json:"recommendations"`
}

// render turns a snapshot into its answer, an error's as errorFor maps it.
func render(id string, sn *store.Snapshot) *Answer {
	if sn.Err != nil {
		a := errorFor(sn.Err).answer()
		a.NoResult = errors.Is(sn.Err, store.ErrNoResult)
		return a
	}
	var body any
	switch sn.Job.Status {
	case store.Completed:
		body = completedBody{id, store.Completed, sn.Job.EventDraftID, sn.Result.TrendAnalysis, sn.Result.Recommendations}
	case store.Failed:
		body = stateBody{id, store.Failed, &sn.Error, msgRetry}
	default:
		body = stateBody{id, sn.Job.Status, nil, msgWaiting}
	}
	data, err := json.Marshal(body)
	if err != nil { // a trendAnalysis that is not valid JSON
		return ErrNoResult.answer()
	}
	return &Answer{Status: sn.Job.Status, Code: 200, Body: data}
}

// Error is an answer of SPEC.md §3's form {"code","message"}.
type Error struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"-"` // seconds; 0 sends no Retry-After
	Challenge  string `json:"-"` // WWW-Authenticate; "" sends none
}

// Error returns the code and message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// answer is e as an answer: its status and its JSON body.
func (e *Error) answer() *Answer {
	data, _ := json.Marshal(e)
	return &Answer{Code: e.Status, Body: data}
}

// The errors jobwait answers with.
var (
	ErrJobNotFound = &Error{Status: 404, Code: "JOB_001", Message: "Job을 찾을 수 없습니다"}
	ErrBadJobID    = &Error{Status: 400, Code: "JOB_002", Message: "잘못된 Job ID입니다: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다"}
	ErrNoResult    = &Error{Status: 502, Code: "JOB_003", Message: "완료된 Job의 결과를 읽을 수 없습니다"}
	ErrUnavailable = &Error{Status: 503, Code: "SVC_002", Message: "Redis에 연결할 수 없습니다. 잠시 후 다시 시도해주세요", RetryAfter: 2}
	// ErrRefused: Redis refuses jobwait's read (an ACL); SPEC.md §3 has one code for Redis trouble.
	ErrRefused      = &Error{Status: 503, Code: "SVC_002", Message: "Redis가 jobwait의 명령을 거부했습니다(권한 설정). 잠시 후 다시 시도해주세요", RetryAfter: 2}
	ErrRouteUnknown = &Error{Status: 404, Code: "REQ_003", Message: "요청한 경로가 없습니다"}
	ErrMethod       = &Error{Status: 405, Code: "REQ_002", Message: "허용되지 않는 메서드입니다"}
	ErrInternal     = &Error{Status: 500, Code: "INT_001", Message: "서버 내부 오류입니다"}
	// ErrTokenRefused and ErrTokenForbidden answer an *auth.Error: no valid
	// wait token, or one that does not list every job asked for.
	ErrTokenRefused = &Error{Status: fiber.StatusUnauthorized, Code: auth.CodeUnauthorized,
		Message: auth.MessageUnauthorized, Challenge: auth.Challenge}
	ErrTokenForbidden = &Error{Status: fiber.StatusForbidden, Code: auth.CodeForbidden, Message: auth.MessageForbidden}
	// ErrDemoBusy: the demo works on store.MaxDemoJobs jobs, the oldest done within the default delay.
	ErrDemoBusy = &Error{Status: 503, Code: "SVC_001", Message: "데모가 처리 중인 Job이 너무 많습니다. 잠시 후 다시 시도해주세요",
		RetryAfter: int(store.DefaultDemoDelay / time.Second)}

	// clientGone answers a request whose connection failed; nobody reads it.
	clientGone = &Error{Status: 400, Code: "REQ_004", Message: "잘못된 요청입니다"}
	// errAmbiguousLength: a request whose body could be framed two ways (see oneFraming).
	errAmbiguousLength = &Error{Status: 400, Code: "REQ_004",
		Message: "요청 본문의 길이를 두 가지로 읽을 수 있습니다 (Content-Length, Transfer-Encoding)"}
)

// badParam is REQ_001 for one query parameter.
func badParam(msg string) *Error { return &Error{Status: 400, Code: "REQ_001", Message: msg} }

// busy is SVC_001, asking the client to come back after retry seconds.
// Every cap answers it alike (the message says which), so that clients
// back off and retry the same way.
func busy(msg string, retry int) *Error {
	return &Error{Status: 503, Code: "SVC_001", Message: msg, RetryAfter: retry}
}

// busy's messages: too many waiters in all, from one address
// (Config.MaxWaitersPerIP), too many connections (admission.Conns).
const (
	msgTooManyWaiters    = "대기 중인 요청이 너무 많습니다. 잠시 후 다시 시도해주세요"
	msgTooManyFromClient = "이 주소에서 대기 중인 요청이 너무 많습니다. 잠시 후 다시 시도해주세요"
	msgTooManyConns      = "연결이 너무 많습니다. 잠시 후 다시 시도해주세요"
)

// connRefusal is the whole response of a connection refused past the
// connection cap, as the cap writes it before fasthttp sees the connection.
func connRefusal(retry int) []byte {
	body := busy(msgTooManyConns, retry).answer().Body
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"Cache-Control: no-store\r\nRetry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		retry, len(body), body)
}

// errorFor is the one mapping from an error to the answer a client sees,
// for fiber's handlers (errorHandler) and a job's reads (render) alike; an
// error it does not know is INT_001, and no internal detail is sent. Past
// the sentinels: stream.ErrClosed (the hub has stopped: shutdown) reads as
// Redis unreachable; stream.ErrReadPanic is a bug in reading a job,
// INT_001 as a handler's panic; fiber's 502 is its name for a failure of
// the client's own connection.
func errorFor(err error) *Error {
	var e *Error
	var fe *fiber.Error
	var ae *auth.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return ErrJobNotFound
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrNoResult):
		return ErrNoResult
	case errors.Is(err, store.ErrRefused):
		return ErrRefused
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, stream.ErrClosed):
		return ErrUnavailable
	case errors.Is(err, store.ErrDemoBusy):
		return ErrDemoBusy
	case errors.As(err, &ae) && ae.Forbidden():
		return ErrTokenForbidden
	case errors.As(err, &ae):
		return ErrTokenRefused
	case errors.As(err, &fe):
		switch {
		case fe.Code == fiber.StatusNotFound:
			return ErrRouteUnknown
		case fe.Code == fiber.StatusMethodNotAllowed:
			return ErrMethod
		case fe.Code >= 400 && fe.Code < 500:
			return &Error{Status: fe.Code, Code: "REQ_004", Message: cmp.Or(badRequests[fe.Code], "잘못된 요청입니다")}
		case fe.Code == fiber.StatusBadGateway:
			return clientGone
		}
	}
	return ErrInternal
}

// badRequests say what was wrong with a request fasthttp refused before
// any handler ran, by its status; any other is "잘못된 요청입니다".
var badRequests = map[int]string{
	fiber.StatusRequestTimeout:              "요청을 제한 시간 안에 다 보내지 않았습니다",
	fiber.StatusRequestEntityTooLarge:       "요청 본문이 너무 큽니다",
	fiber.StatusRequestHeaderFieldsTooLarge: "요청 줄 또는 헤더가 너무 깁니다",
}

// errorHandler is the app's one error handler: every error becomes JSON
// (see errorFor). A bug nobody has logged yet is logged as an error; what
// the client caused, or an outage the hub logs once, at debug level; an
// error of fasthttp's by its status alone, since its text quotes the
// request's bytes (a wait token among them) whatever SecureErrorLogMessage says.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := errorFor(err)
	var fe *fiber.Error
	switch {
	case e == ErrInternal && !errors.Is(err, stream.ErrReadPanic):
		s.log.Error("request failed", "err", err)
	case errors.As(err, &fe):
		s.log.Debug("request failed", "code", e.Code, "status", fe.Code)
	case !errors.As(err, new(*Error)):
		s.log.Debug("request failed", "code", e.Code, "err", err)
	}
	if e.Challenge != "" {
		c.Set(fiber.HeaderWWWAuthenticate, e.Challenge)
	}
	return s.reply(c, e.answer(), e.RetryAfter)
}

// reply writes an answer at once, with Retry-After when retry is positive.
func (s *Server) reply(c *fiber.Ctx, a *Answer, retry int) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if retry > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retry))
	}
	c.Status(a.Code)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(a.Body)
}
