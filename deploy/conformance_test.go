package deploy

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth/authtest"
	"jobwait/server/servertest"
	"jobwait/server/sse"
	"jobwait/store/redistest"
	"jobwait/stream/streamtest"
)

// jobs writes job states straight into Redis, as the AI service does; t is
// the (sub)test that writes.
type jobs struct {
	t   *testing.T
	rdb *redis.Client
}

// resultJSON is a producer's ai:recommendation:{draft} (SPEC.md §1), for
// fmt with the draft id.
const resultJSON = `{"eventDraftId":"%s",
	 "trendAnalysis":{"summary":"20대 여성 커피 선호","keywords":["커피","쿠폰"]},
	 "recommendations":[
	  {"title":"저비용 추천안","prize":"커피쿠폰","method":"QR코드 스캔","cost":"50만원","roi":"150%%"},
	  {"title":"중비용 추천안","prize":"상품권","method":"SNS 공유","cost":"100만원","roi":"200%%"},
	  {"title":"고비용 추천안","prize":"경품 추첨","method":"설문 참여","cost":"200만원","roi":"300%%"}]}`

func (j jobs) set(id, status, draft string) {
	j.t.Helper()
	v := fmt.Sprintf(`{"jobId":%q,"status":%q,"eventDraftId":%q,"type":"AI_RECOMMENDATION",`+
		`"createdAt":"2026-11-23T10:00:00Z","updatedAt":"2026-11-23T10:00:03Z"}`, id, status, draft)
	j.raw("job:"+id, v)
}

func (j jobs) raw(key, value string) {
	j.t.Helper()
	require.NoError(j.t, j.rdb.Set(context.Background(), key, value, time.Hour).Err())
}

func (j jobs) hset(id string, fields ...string) {
	j.t.Helper()
	require.NoError(j.t, j.rdb.HSet(context.Background(), "job:"+id, fields).Err())
}

func (j jobs) result(draft string) {
	j.t.Helper()
	j.raw("ai:recommendation:"+draft, fmt.Sprintf(resultJSON, draft))
}

func (j jobs) del(keys ...string) {
	j.t.Helper()
	require.NoError(j.t, j.rdb.Del(context.Background(), keys...).Err())
}

// awaitWaiters waits until jobwait holds n waiters of kind, read from
// /metrics: a long poll is registered before the job it waits on changes.
func awaitWaiters(t *testing.T, base, kind string, n int) {
	t.Helper()
	streamtest.EventuallyEqual(t, 3*time.Second, fmt.Sprintf("jobwait_waiters{kind=%q} (-1: GET /metrics failed)", kind), float64(n), func() float64 {
		return servertest.Metric(base, "jobwait_waiters", "kind", kind)
	})
}

// TestConformance drives the real jobwait against a private Redis and checks
// every answer against docs/openapi.yaml: every documented operation, every
// documented status of each, every job state of SPEC.md §1 in both of its
// Redis forms, and every event of a stream. It ends by requiring that each
// documented response was seen, so neither side can drift alone.
func TestConformance(t *testing.T) {
	c := &conformance{
		o:      loadOpenAPI(t),
		client: &http.Client{Timeout: 10 * time.Second},
		seen:   map[string]bool{},
	}
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	p := servertest.Start(t, "REDIS_URL="+srv.URL(), "JOBWAIT_DEMO=true", "JOBWAIT_WAIT_BUDGET=2s",
		"JOBWAIT_DEMO_DELAY=500ms", "JOBWAIT_DEMO_FAIL_RATE=0")
	p.WaitReady(t, 5*time.Second)
	t.Cleanup(c.client.CloseIdleConnections) // before jobwait stops: it waits for open connections
	base := p.URL()
	status := func(id, query string) request {
		return request{base: base, method: "GET", path: statusPath, url: "/api/events/jobs/" + id + "/status" + query}
	}
	stream := func(id string) request {
		return request{base: base, method: "GET", path: streamPath, url: "/api/events/jobs/" + id + "/stream"}
	}
	errCode := func(t *testing.T, a answer, code string) {
		t.Helper()
		assert.Equal(t, code, get(a.body, "code"), "error code of %v", a.body)
	}

	t.Run("short poll", func(t *testing.T) {
		j := jobs{t, rdb}
		j.set("pending", "PENDING", "d-pending")
		j.set("processing", "PROCESSING", "d-processing")
		j.hset("hashProcessing", "jobId", "hashProcessing", "status", "PROCESSING", "eventDraftId", "d-h1")
		j.hset("quotedHash", "status", `"PENDING"`, "eventDraftId", `"d-h2"`)
		for _, id := range []string{"pending", "processing", "hashProcessing", "quotedHash"} {
			a := c.do(t, status(id, ""), 200)
			assert.Equal(t, id, get(a.body, "jobId"), id)
			assert.Equal(t, "AI가 분석 중입니다", get(a.body, "message"), id)
			assert.Equal(t, "2", a.header.Get("Retry-After"), "%s: a running job's short poll carries Retry-After", id)
			assert.Equal(t, "no-store", a.header.Get("Cache-Control"), id)
		}

		j.set("completed", "COMPLETED", "d-completed")
		j.result("d-completed")
		j.hset("hashCompleted", "status", "COMPLETED", "eventDraftId", "d-completed")
		j.set("noTrend", "COMPLETED", "d-notrend")
		j.raw("ai:recommendation:d-notrend", `{"eventDraftId":"d-notrend","recommendations":[]}`)
		j.set("textTrend", "COMPLETED", "d-texttrend")
		j.raw("ai:recommendation:d-texttrend", `{"eventDraftId":"d-texttrend","trendAnalysis":"커피 강세","recommendations":[{"title":"t","prize":"p","method":"m","cost":"c","roi":"r","extra":"dropped"}]}`)
		for _, id := range []string{"completed", "hashCompleted", "noTrend", "textTrend"} {
			a := c.do(t, status(id, ""), 200)
			assert.Equal(t, "COMPLETED", get(a.body, "status"), id)
			assert.Empty(t, a.header.Get("Retry-After"), "%s: a final answer has no Retry-After", id)
		}
		a := c.do(t, status("completed", ""), 200)
		assert.Len(t, get(a.body, "recommendations"), 3)
		assert.Equal(t, "20대 여성 커피 선호", get(a.body, "trendAnalysis", "summary"))
		assert.Equal(t, obj{}, get(c.do(t, status("noTrend", ""), 200).body, "trendAnalysis"), "no trendAnalysis is {}")
		assert.Equal(t, "커피 강세", get(c.do(t, status("textTrend", ""), 200).body, "trendAnalysis"), "trendAnalysis is passed through")

		j.set("failed", "FAILED", "d-failed")
		j.raw("job:failed:error", "모델 서버 시간 초과")
		j.set("failedBare", "FAILED", "d-failed")
		j.hset("hashFailed", "status", "FAILED")
		for id, msg := range map[string]string{"failed": "모델 서버 시간 초과", "failedBare": "AI 분석 실패", "hashFailed": "AI 분석 실패"} {
			a := c.do(t, status(id, ""), 200)
			assert.Equal(t, "FAILED", get(a.body, "status"), id)
			assert.Equal(t, msg, get(a.body, "error"), id)
			assert.Equal(t, "다시 시도해주세요", get(a.body, "message"), id)
			assert.Empty(t, a.header.Get("Retry-After"), id)
		}
	})

	t.Run("errors", func(t *testing.T) {
		j := jobs{t, rdb}
		errCode(t, c.do(t, status("nosuchjob", ""), 404), "JOB_001")
		errCode(t, c.do(t, stream("nosuchjob"), 404), "JOB_001")
		for _, id := range []string{"a:b", "job*", "a%20b", "%3A", strings.Repeat("x", 65)} {
			errCode(t, c.do(t, status(id, ""), 400), "JOB_002")
			errCode(t, c.do(t, stream(id), 400), "JOB_002")
		}
		errCode(t, c.do(t, request{base: base, method: "GET", path: statusPath, url: "/api/events/jobs//status"}, 400), "JOB_002")

		j.set("pending", "PENDING", "d-pending")
		for _, w := range []string{"abc", "-1", "1.5", "-5s", strings.Repeat("9", 40)} {
			errCode(t, c.do(t, status("pending", "?wait="+url.QueryEscape(w)), 400), "REQ_001")
		}

		j.set("noResult", "COMPLETED", "d-missing")
		j.hset("noDraft", "status", "COMPLETED")
		j.set("badResult", "COMPLETED", "d-bad")
		j.raw("ai:recommendation:d-bad", `{"eventDraftId":"d-bad","recommendations":"none"`)
		j.set("corrupt", "PROCESSING", "d")
		j.raw("job:corrupt", `{"status":`)
		j.set("unknownStatus", "DONE", "d")
		for _, id := range []string{"noResult", "noDraft", "badResult", "corrupt", "unknownStatus"} {
			errCode(t, c.do(t, status(id, ""), 502), "JOB_003")
			errCode(t, c.do(t, status(id, "?wait=1"), 502), "JOB_003")
			errCode(t, c.do(t, stream(id), 502), "JOB_003")
		}

		// Methods the document does not name: the generic error.
		for _, r := range []request{
			{base: base, method: "POST", url: "/api/events/jobs/pending/status"},
			{base: base, method: "DELETE", url: "/api/events/jobs/pending/status"},
			{base: base, method: "PUT", url: "/api/events/jobs/pending/stream"},
		} {
			a := c.undocumented(t, r, 405)
			errCode(t, a, "REQ_002")
			assert.Equal(t, "GET, HEAD", a.header.Get("Allow"), "%s %s", r.method, r.url)
		}
		for _, u := range []string{"/api/events/jobs/pending/other", "/api/nothing", "/nothing.html"} {
			errCode(t, c.undocumented(t, request{base: base, method: "GET", url: u}, 404), "REQ_003")
		}

		// A body past the server's limit is refused before any handler.
		big := request{base: base, method: "POST", path: demoPath, url: "/api/events/draft-1/ai-recommendations", body: strings.Repeat("x", 5000)}
		errCode(t, c.do(t, big, 413), "REQ_004")
	})

	t.Run("long poll", func(t *testing.T) {
		j := jobs{t, rdb}
		j.set("lpPending", "PENDING", "d-lp")
		start := time.Now()
		a := c.do(t, status("lpPending", "?wait=1"), 200)
		assert.Equal(t, true, get(a.body, "timedOut"), "a wait that ends first says timedOut")
		assert.Equal(t, "PENDING", get(a.body, "status"))
		assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "held for the wait")
		assert.Equal(t, "2", a.header.Get("Retry-After"), "a timed-out long poll's job is still running")

		j.set("lpDone", "COMPLETED", "d-lpdone")
		j.result("d-lpdone")
		a = c.do(t, status("lpDone", "?wait=30"), 200)
		assert.Nil(t, get(a.body, "timedOut"))
		assert.Empty(t, a.header.Get("Retry-After"))

		// Woken by the producer's write, and by the job's disappearance.
		j.set("lpWake", "PROCESSING", "d-lpwake")
		j.set("lpGone", "PROCESSING", "d-lpgone")
		for _, tc := range []struct {
			id    string
			write func()
			want  int
		}{
			{"lpWake", func() { j.result("d-lpwake"); j.set("lpWake", "COMPLETED", "d-lpwake") }, 200},
			{"lpGone", func() { j.del("job:lpGone") }, 404},
		} {
			r := status(tc.id, "?wait=2s")
			done := c.fetchAsync(r)
			awaitWaiters(t, base, "longpoll", 1)
			tc.write()
			a := c.verify(t, r, await(t, done), tc.want)
			if tc.want == 200 {
				assert.Equal(t, "COMPLETED", get(a.body, "status"), tc.id)
			} else {
				errCode(t, a, "JOB_001")
			}
			awaitWaiters(t, base, "longpoll", 0)
		}
	})

	t.Run("stream", func(t *testing.T) {
		j := jobs{t, rdb}
		j.set("sDone", "COMPLETED", "d-sdone")
		j.result("d-sdone")
		j.set("sFailed", "FAILED", "d-sfailed")
		j.raw("job:sFailed:error", "boom")
		for id, want := range map[string]string{"sDone": "completed", "sFailed": "failed"} {
			_, resp := c.open(t, stream(id), 200)
			evs := c.readStream(t, resp, nil)
			assert.Equal(t, []string{want}, eventNames(evs), id)
			if assert.NotEmpty(t, evs) {
				last := evs[len(evs)-1]
				assert.True(t, strings.HasSuffix(last.ID, "-end"), "final event id %q", last.ID)
				// Reconnecting after the final event is told to stop.
				r := stream(id)
				r.header = http.Header{"Last-Event-ID": {last.ID}}
				c.do(t, r, 204)
			}
		}

		// PENDING → PROCESSING → FAILED, written while the stream is open.
		j.set("sMoves", "PENDING", "d-smoves")
		_, resp := c.open(t, stream("sMoves"), 200)
		evs := c.readStream(t, resp, func(ev sse.Event, data obj) {
			switch data["status"] {
			case "PENDING":
				j.set("sMoves", "PROCESSING", "d-smoves")
			case "PROCESSING":
				j.raw("job:sMoves:error", "모델 오류")
				j.set("sMoves", "FAILED", "d-smoves")
			}
		})
		assert.Equal(t, []string{"status", "status", "failed"}, eventNames(evs))

		// A job deleted mid-stream ends it with a problem.
		j.set("sGone", "PROCESSING", "d-sgone")
		_, resp = c.open(t, stream("sGone"), 200)
		evs = c.readStream(t, resp, func(ev sse.Event, data obj) {
			if ev.Type == "status" {
				j.del("job:sGone")
			}
		})
		if assert.Equal(t, []string{"status", "problem"}, eventNames(evs)) {
			assert.Contains(t, evs[1].Data, `"JOB_001"`)
			assert.True(t, strings.HasSuffix(evs[1].ID, "-end"), "problem id %q", evs[1].ID)
			r := stream("sGone")
			r.header = http.Header{"Last-Event-ID": {evs[1].ID}}
			c.do(t, r, 204)
		}

		// A malformed Last-Event-ID is ignored.
		r := stream("sDone")
		r.header = http.Header{"Last-Event-ID": {"not-an-id-end"}}
		_, resp = c.open(t, r, 200)
		evs = c.readStream(t, resp, nil)
		assert.Equal(t, []string{"completed"}, eventNames(evs))

		// A reconnect keeps its deadline: an id whose deadline is near
		// times out then, and its timeout event ends the stream for good.
		j.set("sWait", "PROCESSING", "d-swait")
		r = stream("sWait")
		r.header = http.Header{"Last-Event-ID": {fmt.Sprintf("%d-3", time.Now().Add(300*time.Millisecond).UnixMilli())}}
		a, resp := c.open(t, r, 200)
		assert.Equal(t, "no-cache", a.header.Get("Cache-Control"))
		assert.Equal(t, "no", a.header.Get("X-Accel-Buffering"))
		evs = c.readStream(t, resp, nil)
		if assert.Equal(t, []string{"status", "timeout"}, eventNames(evs)) {
			assert.Contains(t, evs[1].Data, `"timedOut":true`)
			assert.True(t, strings.HasSuffix(evs[1].ID, "-end"), "timeout id %q", evs[1].ID)
			r.header = http.Header{"Last-Event-ID": {evs[1].ID}}
			c.do(t, r, 204)
		}
	})

	t.Run("many", func(t *testing.T) {
		j := jobs{t, rdb}
		manyStatus := func(query string) request {
			return request{base: base, method: "GET", path: manyStatusPath, url: manyStatusPath + query}
		}
		manyStream := func(query string, header ...string) request {
			r := request{base: base, method: "GET", path: manyStreamPath, url: manyStreamPath + query}
			if len(header) > 0 {
				r.header = http.Header{"Last-Event-ID": header}
			}
			return r
		}
		j.set("mRun", "PROCESSING", "d-mrun")
		j.set("mDone", "COMPLETED", "d-mdone")
		j.result("d-mdone")
		j.set("mFailed", "FAILED", "d-mfailed")

		// Batched short poll: every body in order, an unknown job's error
		// with its id.
		a := c.do(t, manyStatus("?ids=mRun,mDone,mFailed,mNone"), 200)
		assert.Equal(t, "2", a.header.Get("Retry-After"), "mRun is still running")
		list, _ := get(a.body, "jobs").([]any)
		if assert.Len(t, list, 4) {
			for i, want := range []string{"PROCESSING", "COMPLETED", "FAILED"} {
				assert.Equal(t, want, get(list[i], "status"))
			}
			assert.Equal(t, obj{"jobId": "mNone", "code": "JOB_001", "message": "Job을 찾을 수 없습니다"}, list[3])
		}
		// Long poll: one final job answers at once; none times out.
		a = c.do(t, manyStatus("?ids=mRun,mDone&wait=30"), 200)
		assert.Nil(t, get(a.body, "timedOut"))
		a = c.do(t, manyStatus("?ids=mRun&wait=1"), 200)
		assert.Equal(t, true, get(a.body, "timedOut"))
		// Woken by a write.
		j.set("mWake", "PROCESSING", "d-mwake")
		r := manyStatus("?ids=mRun,mWake&wait=2s")
		done := c.fetchAsync(r)
		awaitWaiters(t, base, "longpoll-many", 1)
		j.raw("job:mWake:error", "boom")
		j.set("mWake", "FAILED", "d-mwake")
		a = c.verify(t, r, await(t, done), 200)
		list, _ = get(a.body, "jobs").([]any)
		if assert.Len(t, list, 2) {
			assert.Equal(t, "FAILED", get(list[1], "status"))
		}

		for _, q := range []string{"?ids=mRun,a:b", "?ids=mRun,", "?ids=" + strings.Repeat("x,", 50) + "y", "", "?ids=mRun,mRun", "?ids=mRun&wait=soon"} {
			want := "REQ_001"
			if strings.Contains(q, ":") || strings.HasSuffix(q, ",") {
				want = "JOB_002"
			}
			errCode(t, c.do(t, manyStatus(q), 400), want)
			if !strings.Contains(q, "wait") {
				errCode(t, c.do(t, manyStream(q), 400), want)
			}
		}

		// The stream: each job's state, its own final event, one deadline.
		_, resp := c.open(t, manyStream("?ids=mDone,mRun,mNone"), 200)
		evs := c.readStream(t, resp, nil)
		assert.Equal(t, []string{"completed", "status", "problem", "timeout"}, eventNames(evs))
		if assert.Len(t, evs, 4) {
			last := evs[3].ID
			assert.Regexp(t, `^\d+-4-7-[0-9a-f]{8}-[0-9a-f]{8}-end$`, last, "final id: every job ended")
			c.do(t, manyStream("?ids=mDone,mRun,mNone", last), 204)
			c.do(t, manyStream("?ids=mDone,mRun,mNone&lastEventId="+url.QueryEscape(last)), 204)
			// Resumed after the completed event: the rest only.
			_, resp = c.open(t, manyStream("?ids=mDone,mRun,mNone&lastEventId="+evs[0].ID), 200)
			evs = c.readStream(t, resp, nil)
			assert.Equal(t, []string{"status", "problem", "timeout"}, eventNames(evs))
		}
	})

	t.Run("demo", func(t *testing.T) {
		r := request{base: base, method: "POST", path: demoPath, url: "/api/events/draft-42/ai-recommendations"}
		a := c.do(t, r, 202)
		id, _ := get(a.body, "jobId").(string)
		require.NotEmpty(t, id)
		assert.Equal(t, "/api/events/jobs/"+id+"/status", a.header.Get("Location"))
		// The stand-in writes Redis as a producer does: its whole run
		// conforms too.
		_, resp := c.open(t, stream(id), 200)
		evs := c.readStream(t, resp, nil)
		if assert.NotEmpty(t, evs) {
			assert.Equal(t, "completed", evs[len(evs)-1].Type, "demo job with fail rate 0: %v", eventNames(evs))
		}
		c.do(t, status(id, ""), 200)

		bad := request{base: base, method: "POST", path: demoPath, url: "/api/events/bad:draft/ai-recommendations"}
		errCode(t, c.do(t, bad, 400), "REQ_001")
	})

	t.Run("operations", func(t *testing.T) {
		get1 := func(path, url string) answer {
			return c.do(t, request{base: base, method: "GET", path: path, url: url}, 200)
		}
		assert.Equal(t, "ok", get1("/healthz", "/healthz").body)
		a := get1("/readyz", "/readyz")
		assert.Equal(t, obj{"status": "ok", "redis": "up", "subscription": "up", "notify": "keyspace", "notifications": "ok",
			"auth": obj{"mode": "off", "source": "none"}}, a.body)
		a = get1("/api/info", "/api/info")
		assert.Equal(t, obj{"demo": true, "waitBudgetMs": 2000.0, "pollIntervalMs": 2000.0, "notify": "keyspace"}, a.body)
		a = get1("/", "/")
		assert.Contains(t, a.body, "<html")
		get1("/", "/?jobId=completed")
		// After the requests above: the route labels they left must still
		// make a valid exposition.
		a = get1("/metrics", "/metrics")
		assert.Contains(t, a.body, "jobwait_http_requests_total")
	})

	t.Run("tokens", func(t *testing.T) {
		// A third jobwait: wait tokens required, signed with a secret.
		srv3 := redistest.Start(t)
		j3 := jobs{t, srv3.Client(t)}
		secret := base64.RawURLEncoding.EncodeToString(authtest.Secret(32))
		p3 := servertest.Start(t, "REDIS_URL="+srv3.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=5s",
			"JOBWAIT_AUTH=required", "JOBWAIT_AUTH_SECRET="+secret)
		p3.WaitReady(t, 5*time.Second)
		t.Cleanup(c.client.CloseIdleConnections)
		b3 := p3.URL()
		key := authtest.HS256([]byte(secret))
		token := func(ttl time.Duration, ids ...string) string {
			return authtest.Sign(t, key, authtest.For(time.Now(), ttl, ids...))
		}
		j3.set("tA", "PROCESSING", "d-ta")
		j3.set("tB", "PROCESSING", "d-tb")
		bearer := func(r request, tok string) request {
			r.header = http.Header{"Authorization": {"Bearer " + tok}}
			return r
		}
		ways := []request{
			{base: b3, method: "GET", path: statusPath, url: "/api/events/jobs/tA/status"},
			{base: b3, method: "GET", path: statusPath, url: "/api/events/jobs/tA/status?wait=1"},
			{base: b3, method: "GET", path: streamPath, url: "/api/events/jobs/tA/stream"},
			{base: b3, method: "GET", path: manyStatusPath, url: manyStatusPath + "?ids=tA,tB"},
			{base: b3, method: "GET", path: manyStatusPath, url: manyStatusPath + "?ids=tA,tB&wait=1"},
			{base: b3, method: "GET", path: manyStreamPath, url: manyStreamPath + "?ids=tA,tB"},
		}
		for _, r := range ways {
			a := c.do(t, r, 401)
			errCode(t, a, "AUTH_001")
			assert.Equal(t, "Bearer", a.header.Get("WWW-Authenticate"), r.url)
			errCode(t, c.do(t, bearer(r, token(time.Minute, "tB")), 403), "AUTH_002")
		}
		both := token(time.Minute, "tA", "tB")
		a := c.do(t, bearer(ways[0], both), 200)
		assert.Equal(t, "PROCESSING", get(a.body, "status"))
		c.do(t, request{base: b3, method: "GET", path: manyStatusPath, url: manyStatusPath + "?ids=tA,tB&access_token=" + both}, 200)

		// A token that expires before the wait: the stream ends with a
		// problem AUTH_001 (no jobId on the many-job stream), the long
		// poll answers then.
		short := token(time.Second, "tA", "tB")
		for _, r := range []request{ways[2], ways[5]} {
			r.url += "?access_token=" + short
			if strings.Contains(r.url, "?ids") {
				r.url = strings.Replace(r.url, "?access_token", "&access_token", 1)
			}
			_, resp := c.open(t, r, 200)
			evs := c.readStream(t, resp, nil)
			if assert.NotEmpty(t, evs, r.url) {
				last := evs[len(evs)-1]
				assert.Equal(t, "problem", last.Type, r.url)
				assert.JSONEq(t, `{"code":"AUTH_001","message":"유효한 대기 토큰이 필요합니다"}`, last.Data, r.url)
				assert.False(t, strings.HasSuffix(last.ID, "-end"), "the token's end is not the wait's: %q", last.ID)
			}
		}
		a = c.do(t, bearer(request{base: b3, method: "GET", path: statusPath, url: "/api/events/jobs/tA/status?wait=5"}, token(time.Second, "tA")), 200)
		assert.Equal(t, true, get(a.body, "timedOut"))

		a = c.do(t, request{base: b3, method: "GET", path: "/readyz", url: "/readyz"}, 200)
		assert.Equal(t, obj{"mode": "required", "source": "secret"}, get(a.body, "auth"))
	})

	t.Run("limits", func(t *testing.T) {
		// A second jobwait: demo off, one waiter at most.
		srv2 := redistest.Start(t)
		j2 := jobs{t, srv2.Client(t)}
		p2 := servertest.Start(t, "REDIS_URL="+srv2.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=2s", "JOBWAIT_MAX_WAITERS=1")
		p2.WaitReady(t, 5*time.Second)
		t.Cleanup(c.client.CloseIdleConnections)
		b2 := p2.URL()
		errCode(t, c.do(t, request{base: b2, method: "POST", path: demoPath, url: "/api/events/draft-42/ai-recommendations"}, 404), "REQ_003")

		j2.set("held", "PROCESSING", "d-held")
		held := request{base: b2, method: "GET", path: statusPath, url: "/api/events/jobs/held/status?wait=2"}
		done := c.fetchAsync(held)
		awaitWaiters(t, b2, "longpoll", 1)
		for _, path := range []string{statusPath, streamPath} {
			u := strings.Replace(path, "{jobId}", "held", 1)
			if path == statusPath {
				u += "?wait=1"
			}
			errCode(t, c.do(t, request{base: b2, method: "GET", path: path, url: u}, 503), "SVC_001")
		}
		for _, u := range []string{manyStatusPath + "?ids=held&wait=1", manyStreamPath + "?ids=held"} {
			path, _, _ := strings.Cut(u, "?")
			errCode(t, c.do(t, request{base: b2, method: "GET", path: path, url: u}, 503), "SVC_001")
		}
		j2.set("held", "FAILED", "d-held")
		a := c.verify(t, held, await(t, done), 200)
		assert.Equal(t, "FAILED", get(a.body, "status"))

		// Redis gone: every Redis-backed answer is SVC_002 and jobwait is
		// not ready. The first jobwait's Redis is stopped: it is the one with
		// the demo on.
		srv.Stop()
		// Each answer waits out the Redis client's retries: ask at once.
		// /readyz answers from jobwait's check of Redis, made each second:
		// it says Redis is down by the next check.
		readyz := request{base: base, method: "GET", path: "/readyz", url: "/readyz"}
		notReady := make(chan fetched, 1)
		go func() {
			deadline := time.Now().Add(5 * time.Second)
			for {
				f := c.fetch(readyz)
				if f.err != nil || f.resp.StatusCode != 200 && bytes.Contains(f.data, []byte(`"redis":"down"`)) || time.Now().After(deadline) {
					notReady <- f
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		down := []request{
			{base: base, method: "GET", path: manyStatusPath, url: manyStatusPath + "?ids=completed"},
			{base: base, method: "GET", path: manyStreamPath, url: manyStreamPath + "?ids=completed"},
			status("completed", ""),
			status("completed", "?wait=1"),
			stream("completed"),
			{base: base, method: "POST", path: demoPath, url: "/api/events/draft-42/ai-recommendations"},
		}
		answers := make([]<-chan fetched, len(down))
		for i, r := range down {
			answers[i] = c.fetchAsync(r)
		}
		for i, r := range down {
			errCode(t, c.verify(t, r, await(t, answers[i]), 503), "SVC_002")
		}
		a = c.verify(t, readyz, await(t, notReady), 503)
		assert.Equal(t, "unavailable", get(a.body, "status"))
		assert.Equal(t, "down", get(a.body, "redis"))
		c.do(t, request{base: base, method: "GET", path: "/healthz", url: "/healthz"}, 200)
	})

	// Every response the document names was produced by the real server.
	var missing []string
	for path, item := range c.o.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, code := range op.Responses.Keys() {
				key := strings.ToLower(method) + " " + path + " " + code
				if code != "default" && !c.seen[key] {
					missing = append(missing, key)
				}
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "documented responses never produced by the test")
}
