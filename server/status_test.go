package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/store"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// shortPollApp is a server over a redis client with its hub running, for
// requests driven through app.Test (short polls, routing, errors).
func shortPollApp(t *testing.T, c redis.UniversalClient) *server.Server {
	t.Helper()
	st := store.New(c)
	hcfg := server.HubConfig(st)
	hcfg.Redis = redisconn.Of(c)
	// A result missing for good is JOB_003 after the grace, within the
	// short Redis timeout below.
	hcfg.Doubt = server.Doubt(200 * time.Millisecond)
	hub := stream.New(hcfg)
	streamtest.Run(t, 10*time.Second, "hub.Run", func(ctx context.Context) { _ = hub.Run(ctx) })
	return server.New(server.Config{RedisTimeout: 500 * time.Millisecond}, st, hub)
}

func do(t *testing.T, s *server.Server, method, path string) (*http.Response, string) {
	t.Helper()
	resp, err := s.App().Test(httptest.NewRequest(method, path, nil), 5000)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	return resp, string(body)
}

const trend = `{"summary":"요약","keywords":["모바일"],"extra":{"n":1}}`
const recs = `[{"title":"저비용 추천안","prize":"커피쿠폰","method":"QR코드 스캔","cost":"50만원","roi":"150%"},` +
	`{"title":"중비용 추천안","prize":"상품권","method":"SNS 공유","cost":"100만원","roi":"200%"},` +
	`{"title":"고비용 추천안","prize":"경품 추첨","method":"설문 참여","cost":"200만원","roi":"300%"}]`

// TestShortPoll checks every row of SPEC.md §3 in both job encodings.
func TestShortPoll(t *testing.T) {
	ctx := context.Background()
	c := redistest.Shared(t).Client(t)
	s := shortPollApp(t, c)

	type write func(id, draft string)
	asJSON := func(status string) write {
		return func(id, d string) {
			c.Set(ctx, "job:"+id, `{"jobId":"`+id+`","status":"`+status+`","eventDraftId":"`+d+`","type":"AI_RECOMMENDATION"}`, time.Hour)
		}
	}
	asHash := func(status string) write {
		return func(id, d string) {
			c.HSet(ctx, "job:"+id, "jobId", id, "status", status, "eventDraftId", d, "type", "AI_RECOMMENDATION")
		}
	}
	withResult := func(w write) write {
		return func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, `{"eventDraftId":"`+d+`","trendAnalysis":`+trend+`,"recommendations":`+recs+`}`, time.Hour)
			w(id, d)
		}
	}
	withError := func(w write) write {
		return func(id, d string) { c.Set(ctx, "job:"+id+":error", "모델 응답 없음", time.Hour); w(id, d) }
	}
	waiting := func(status string) string {
		return `{"jobId":"{id}","status":"` + status + `","message":"AI가 분석 중입니다"}`
	}
	completed := `{"jobId":"{id}","status":"COMPLETED","eventDraftId":"{draft}","trendAnalysis":` + trend + `,"recommendations":` + recs + `}`
	failed := func(msg string) string {
		return `{"jobId":"{id}","status":"FAILED","error":"` + msg + `","message":"다시 시도해주세요"}`
	}
	notFound := `{"code":"JOB_001","message":"Job을 찾을 수 없습니다"}`
	noResult := `{"code":"JOB_003","message":"완료된 Job의 결과를 읽을 수 없습니다"}`

	tests := []struct {
		name  string
		write write
		code  int
		body  string // {id} and {draft} stand for the job's and draft's ids
		retry bool   // Retry-After: 2 expected
	}{
		{"pending json", asJSON("PENDING"), 200, waiting("PENDING"), true},
		{"pending hash", asHash("PENDING"), 200, waiting("PENDING"), true},
		{"processing json", asJSON("PROCESSING"), 200, waiting("PROCESSING"), true},
		{"processing hash", asHash("PROCESSING"), 200, waiting("PROCESSING"), true},
		{"completed json", withResult(asJSON("COMPLETED")), 200, completed, false},
		{"completed hash", withResult(asHash("COMPLETED")), 200, completed, false},
		{"failed json", withError(asJSON("FAILED")), 200, failed("모델 응답 없음"), false},
		{"failed hash", withError(asHash("FAILED")), 200, failed("모델 응답 없음"), false},
		{"failed without error key", asJSON("FAILED"), 200, failed("AI 분석 실패"), false},
		{"no such job", func(string, string) {}, 404, notFound, false},
		{"completed without result", asJSON("COMPLETED"), 502, noResult, false},
		{"completed with corrupt result", func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, `{"recommendations":[{`, time.Hour)
			asJSON("COMPLETED")(id, d)
		}, 502, noResult, false},
		{"corrupt job json", func(id, d string) { c.Set(ctx, "job:"+id, `{"status"`, time.Hour) }, 502, noResult, false},
		{"unknown status", asJSON("DONE"), 502, noResult, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, draft := storetest.ID("j"), storetest.ID("d")
			tt.write(id, draft)
			resp, body := do(t, s, "GET", "/api/events/jobs/"+id+"/status")
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.JSONEq(t, strings.NewReplacer("{id}", id, "{draft}", draft).Replace(tt.body), body)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
			if tt.retry {
				assert.Equal(t, "2", resp.Header.Get("Retry-After"))
			} else {
				assert.Empty(t, resp.Header.Get("Retry-After"))
			}
		})
	}
}

// TestBadRequestsTouchNoRedis: bad ids and parameters are answered before
// Redis is asked anything; a client with no server behind it proves it.
func TestBadRequestsTouchNoRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	s := shortPollApp(t, dead)
	badID := `{"code":"JOB_002","message":"잘못된 Job ID입니다: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다"}`
	tests := []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/api/events/jobs/a:b/status", 400, "JOB_002"},
		{"GET", "/api/events/jobs/a*/status", 400, "JOB_002"},
		{"GET", "/api/events/jobs/a%20b/status", 400, "JOB_002"},
		{"GET", "/api/events/jobs//status", 400, "JOB_002"},
		{"GET", "/api/events/jobs/" + strings.Repeat("x", 65) + "/status", 400, "JOB_002"},
		{"GET", "/api/events/jobs/a/b/status", 400, "JOB_002"},
		{"GET", "/api/events/jobs/a:b/stream", 400, "JOB_002"},
		{"GET", "/api/events/jobs/ok/status?wait=abc", 400, "REQ_001"},
		{"GET", "/api/events/jobs/ok/status?wait=-5", 400, "REQ_001"},
		{"GET", "/api/events/jobs/ok/status?wait=1.5", 400, "REQ_001"},
		{"POST", "/api/events/jobs/ok/status", 405, "REQ_002"},
		{"DELETE", "/api/events/jobs/ok/stream", 405, "REQ_002"},
		{"GET", "/api/events/jobs/ok/other", 404, "REQ_003"},
		{"GET", "/nope", 404, "REQ_003"},
		{"POST", "/api/events/draft-1/ai-recommendations", 404, "REQ_003"}, // demo off
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, s, tt.method, tt.path)
			assert.Equal(t, tt.code, resp.StatusCode)
			var e struct{ Code, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, tt.errCode, e.Code)
			assert.NotEmpty(t, e.Message)
			if tt.errCode == "JOB_002" {
				assert.JSONEq(t, badID, body)
			}
		})
	}
}

func TestRedisDownIsSVC002AndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	s := shortPollApp(t, c)
	id := storetest.ID("j")
	require.NoError(t, c.Set(context.Background(), "job:"+id, `{"status":"PENDING"}`, time.Hour).Err())

	srv.Stop()
	resp, body := do(t, s, "GET", "/api/events/jobs/"+id+"/status")
	assert.Equal(t, 503, resp.StatusCode)
	assert.JSONEq(t, `{"code":"SVC_002","message":"Redis에 연결할 수 없습니다. 잠시 후 다시 시도해주세요"}`, body)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, _ = do(t, s, "GET", "/readyz")
	assert.Equal(t, 503, resp.StatusCode)

	srv.Resume(t)
	require.NoError(t, c.Set(context.Background(), "job:"+id, `{"status":"PROCESSING"}`, time.Hour).Err())
	resp, body = do(t, s, "GET", "/api/events/jobs/"+id+"/status")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, body, `"PROCESSING"`)
}

// panicHook makes every pipeline that reads a job panic, as a bug on a
// request's path would; other commands (the connection's own set-up) pass.
type panicHook struct{}

func (panicHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (panicHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (panicHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "get" {
				panic("boom")
			}
		}
		return next(ctx, cmds)
	}
}

func TestPanicIsJSON500(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Shared(t).Addr()})
	t.Cleanup(func() { c.Close() })
	c.AddHook(panicHook{})
	s := shortPollApp(t, c)
	resp, body := do(t, s, "GET", "/api/events/jobs/any/status")
	assert.Equal(t, 500, resp.StatusCode)
	assert.JSONEq(t, `{"code":"INT_001","message":"서버 내부 오류입니다"}`, body)
}

func TestHealthAndMetrics(t *testing.T) {
	c := redistest.Shared(t).Client(t)
	s := shortPollApp(t, c)
	resp, body := do(t, s, "GET", "/healthz")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", body)

	do(t, s, "GET", "/api/events/jobs/some-job-id/status")
	resp, body = do(t, s, "GET", "/metrics")
	assert.Equal(t, 200, resp.StatusCode)
	for _, m := range []string{"go_goroutines", "process_resident_memory_bytes", `jobwait_http_requests_total{code="404",route="status"}`,
		`jobwait_waiters{kind="sse"}`, "jobwait_hub_notifications_total", "jobwait_wake_latency_seconds_bucket", `jobwait_notify_mode{mode="keyspace"}`,
		`jobwait_auth_rejections_total{code="AUTH_001",reason="expired"} 0`, `jobwait_auth_rejections_total{code="AUTH_002",reason="jobs"} 0`} {
		assert.Contains(t, body, m)
	}
	assert.NotContains(t, body, "some-job-id", "metrics are never labelled by job id")
}
