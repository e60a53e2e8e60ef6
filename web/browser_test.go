package web_test

// These tests drive the page in a real headless Chromium against the real
// jobwait binary (built from ./cmd/jobwait) and a private redis-server. The
// test plays the AI service: it writes job states into Redis as SPEC.md §1
// says and watches the page react.
//
// They need /usr/bin/chromium (apt-get install -y chromium) and redis-server
// (apt-get install -y redis-server); without them they fail, they never skip.
//
// JOBWAIT_SCREENSHOT=1 makes TestCompletedOverSSE save the completed page to
// docs/screenshot.png at the repository root, for the README (it needs a
// Korean font, e.g. apt-get install -y fonts-noto-cjk):
//
//	JOBWAIT_SCREENSHOT=1 go test ./web -run TestCompletedOverSSE

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
	"jobwait/stream/streamtest"
)

const (
	chromiumPath = "/usr/bin/chromium"
	pageTimeout  = 40 * time.Second // everything one test does in its tab
	stepTimeout  = 15 * time.Second // one awaited change on the page
)

// suite holds the one Chromium the tests share, started on first use and
// stopped by TestMain.
var suite struct {
	dir string // Chromium's profile lives here

	once    sync.Once
	browser context.Context
	close   func()
	err     error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jobwait-web-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	suite.dir = dir
	code := m.Run()
	if suite.close != nil {
		suite.close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// browserContext starts the shared headless Chromium once per run.
func browserContext(t *testing.T) context.Context {
	redistest.SkipIfShort(t)
	t.Helper()
	suite.once.Do(func() {
		if _, err := os.Stat(chromiumPath); err != nil {
			suite.err = fmt.Errorf("%s not found: install it with `apt-get install -y chromium`", chromiumPath)
			return
		}
		profile := filepath.Join(suite.dir, "chromium-profile")
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(profile),
			chromedp.WindowSize(1100, 900),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		browser, cancelBrowser := chromedp.NewContext(alloc)
		suite.close = func() { cancelBrowser(); cancelAlloc() }
		// The first Do starts Chromium and binds its life to the context it
		// is given, so that context has no timeout; the allocator bounds
		// the start by itself.
		if err := chromedp.Do(browser); err != nil {
			suite.err = fmt.Errorf("start %s: %w", chromiumPath, err)
			return
		}
		suite.browser = browser
	})
	require.NoError(t, suite.err)
	return suite.browser
}

// --- jobwait --------------------------------------------------------------

// jobwait is one running jobwait process and the Redis it reads.
type jobwait struct {
	URL      string
	Redis    *redis.Client
	RedisURL string
	Proc     *servertest.Process
}

// startJobwait runs the real jobwait binary against a private
// redis-server, with env added to its environment, until the test ends.
func startJobwait(t *testing.T, env ...string) *jobwait {
	t.Helper()
	rs := redistest.Start(t)
	p := servertest.Start(t, append([]string{"REDIS_URL=" + rs.URL()}, env...)...)
	p.WaitReady(t, 10*time.Second) // the keyspace subscription is live: no write is missed
	return &jobwait{URL: p.URL(), Redis: rs.Client(t), RedisURL: rs.URL(), Proc: p}
}

// setJob writes job:{id} as the AI service does.
func (j *jobwait) setJob(t *testing.T, id, status, draft string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	v, err := json.Marshal(map[string]string{
		"jobId": id, "status": status, "eventDraftId": draft,
		"type": "AI_RECOMMENDATION", "createdAt": now, "updatedAt": now,
	})
	require.NoError(t, err)
	require.NoError(t, j.Redis.Set(context.Background(), "job:"+id, v, time.Hour).Err())
}

// complete writes the recommendation, then the COMPLETED status, in the
// producer's order.
func (j *jobwait) complete(t *testing.T, id, draft string) {
	t.Helper()
	require.NoError(t, j.Redis.Set(context.Background(), "ai:recommendation:"+draft, sampleResult(draft), 24*time.Hour).Err())
	j.setJob(t, id, "COMPLETED", draft)
}

// fail writes the error message, then the FAILED status.
func (j *jobwait) fail(t *testing.T, id, draft, msg string) {
	t.Helper()
	require.NoError(t, j.Redis.Set(context.Background(), "job:"+id+":error", msg, time.Hour).Err())
	j.setJob(t, id, "FAILED", draft)
}

const (
	sampleSummary = "연말 시즌에는 소액 즉시 보상형 이벤트의 참여율이 높고, SNS 공유형 이벤트가 20~30대에서 빠르게 확산되고 있습니다."
	sampleRival   = "A사 연말 룰렛"
)

var sampleKeywords = []string{"연말", "커피쿠폰", "SNS 챌린지", "QR 참여", "즉시 보상"}

// sampleResult is a recommendation with the fields of SPEC.md §1 and, in
// the trend analysis, fields the page does not know (nested objects and
// lists), which it must still show.
func sampleResult(draft string) string {
	v, _ := json.Marshal(map[string]any{
		"eventDraftId": draft,
		"trendAnalysis": map[string]any{
			"summary":  sampleSummary,
			"keywords": sampleKeywords,
			"targetAudience": map[string]any{
				"age": "20-39", "channels": []string{"인스타그램", "카카오톡"},
			},
			"competitors": []map[string]any{
				{"name": sampleRival, "participants": 12000},
				{"name": "B사 설문 이벤트", "participants": 8300},
			},
			"confidence": 0.82,
		},
		"recommendations": []map[string]string{
			{"title": "저비용 추천안", "prize": "커피쿠폰", "method": "QR코드 스캔", "cost": "50만원", "roi": "150%"},
			{"title": "중비용 추천안", "prize": "상품권", "method": "SNS 공유", "cost": "100만원", "roi": "200%"},
			{"title": "고비용 추천안", "prize": "경품 추첨", "method": "설문 참여", "cost": "200만원", "roi": "300%"},
		},
	})
	return string(v)
}

// --- the page ---------------------------------------------------------------

// tab is one browser tab on the page, with what the page did in it.
type tab struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string // uncaught exceptions and console.error calls
	requests []string // URLs the page requested
}

type tabOption func(t *testing.T, ctx context.Context)

// withoutEventSource removes EventSource before the page's scripts run, as
// in a browser that has none.
func withoutEventSource(t *testing.T, ctx context.Context) {
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.EventSource"})
	require.NoError(t, err)
}

// openPage opens path of j in a new tab. When the test ends it checks that
// the page threw nothing and logged no console errors.
func openPage(t *testing.T, j *jobwait, path string, opts ...tabOption) *tab {
	t.Helper()
	tctx, cancelTab := chromedp.NewContext(browserContext(t))
	ctx, cancel := context.WithTimeout(tctx, pageTimeout)
	p := &tab{ctx: ctx}
	require.NoError(t, chromedp.Listen(ctx, p.record))
	t.Cleanup(func() {
		cancel()
		cancelTab()
		p.mu.Lock()
		defer p.mu.Unlock()
		assert.Empty(t, p.problems, "the page threw or logged errors")
	})
	for _, o := range opts {
		o(t, ctx)
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(j.URL+path)))
	return p
}

// record runs in chromedp's event loop: it only appends.
func (p *tab) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			p.problems = append(p.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, e.Request.URL)
	}
}

// requested reports whether the page requested a URL containing part.
func (p *tab) requested(part string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.requests {
		if strings.Contains(u, part) {
			return true
		}
	}
	return false
}

// waitFor waits until the JavaScript expression cond is true on the page.
func (p *tab) waitFor(t *testing.T, cond, what string) {
	t.Helper()
	p.waitForWithin(t, stepTimeout, cond, what)
}

// waitForWithin is waitFor for a step that may take up to d.
func (p *tab) waitForWithin(t *testing.T, d time.Duration, cond, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v; the page shows state %q, text:\n%s",
			what, cond, err, p.eval(t, "document.body.dataset.state || ''"), p.eval(t, "document.querySelector('main').innerText"))
	}
}

// waitState waits until the page shows state (waiting, completed, failed,
// timeout, error).
func (p *tab) waitState(t *testing.T, state string) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("document.body.dataset.state === %q", state), "state "+state)
}

// importClient imports the client module the page is served with,
// /client/jobwait.js, as window.jobwait, for a test to call.
func (p *tab) importClient(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/client/jobwait.js').then((m) => { window.jobwait = m; return '' })`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err, "import /client/jobwait.js")
}

func (p *tab) eval(t *testing.T, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return s
}

// text is the text content of the first element that selector matches.
func (p *tab) text(t *testing.T, selector string) string {
	t.Helper()
	return strings.TrimSpace(p.eval(t, fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", selector)))
}

// visible reports whether the element is shown.
func (p *tab) visible(t *testing.T, selector string) bool {
	t.Helper()
	return p.eval(t, fmt.Sprintf("String(!!document.querySelector(%q)?.checkVisibility())", selector)) == "true"
}

func (p *tab) count(t *testing.T, selector string) int {
	t.Helper()
	n, err := strconv.Atoi(p.eval(t, fmt.Sprintf("String(document.querySelectorAll(%q).length)", selector)))
	require.NoError(t, err)
	return n
}

func (p *tab) click(t *testing.T, selector string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible)), "click %s", selector)
}

// assertResult checks the rendering of sampleResult.
func (p *tab) assertResult(t *testing.T) {
	t.Helper()
	require.Equal(t, 3, p.count(t, ".card"), "recommendation cards")
	for i, title := range []string{"저비용 추천안", "중비용 추천안", "고비용 추천안"} {
		assert.Equal(t, title, p.text(t, fmt.Sprintf(".card:nth-child(%d) .card-title", i+1)))
	}
	first := p.text(t, ".card:nth-child(1)")
	for _, s := range []string{"경품", "커피쿠폰", "참여 방법", "QR코드 스캔", "예상 비용", "50만원", "예상 ROI", "150%"} {
		assert.Contains(t, first, s)
	}
	assert.True(t, p.visible(t, "#trend"), "#trend shown")
	trend := p.text(t, "#trend")
	assert.Contains(t, trend, sampleSummary)
	assert.Contains(t, trend, sampleRival, "unknown nested fields are shown")
	assert.Contains(t, trend, "인스타그램")
	assert.Equal(t, strconv.Itoa(len(sampleKeywords)), p.eval(t, "String(document.querySelectorAll('#trend .keywords .chip').length)"), "keyword chips")
}

// --- tests ----------------------------------------------------------------

func TestCompletedOverSSE(t *testing.T) {
	t.Parallel()
	// Demo mode, as `make run` serves the page: the screenshot shows the
	// form that starts an analysis. The test writes the job itself.
	j := startJobwait(t, "JOBWAIT_DEMO=true")
	const id, draft = "web-sse-1", "draft-sse"
	j.setJob(t, id, "PENDING", draft)

	p := openPage(t, j, "/?jobId="+id)
	p.waitState(t, "waiting")
	p.waitFor(t, `document.querySelector('#transport').textContent === 'SSE'`, "the SSE badge")
	p.waitFor(t, `document.querySelector('#status').textContent === '대기 중'`, "PENDING shown")
	assert.Contains(t, p.text(t, "#waiting"), "AI가 분석 중입니다")

	j.setJob(t, id, "PROCESSING", draft)
	p.waitFor(t, `document.querySelector('#status').dataset.status === 'PROCESSING'`, "PROCESSING pushed over the stream")

	j.complete(t, id, draft)
	p.waitState(t, "completed")
	p.assertResult(t)
	assert.True(t, p.requested("/api/events/jobs/"+id+"/stream"), "the page opened the stream")
	assert.False(t, p.requested("wait="), "the page never fell back to long poll")
	assert.Equal(t, "SSE", p.text(t, "#transport"))

	// Choosing a recommendation highlights it and tells the embedding page.
	p.eval(t, `window.__picked = ''; jobwaitApp.onSelect = function (r, i) { window.__picked = i + ':' + r.title }; ''`)
	p.click(t, ".card:nth-child(2)")
	p.waitFor(t, `document.querySelectorAll('.card.selected').length === 1`, "one card selected")
	assert.Equal(t, "1", p.eval(t, `document.querySelector('.card.selected').dataset.index`))
	assert.Equal(t, "선택한 추천안: 중비용 추천안", p.text(t, "#selection"))
	assert.Equal(t, "1:중비용 추천안", p.eval(t, "window.__picked"))

	if os.Getenv("JOBWAIT_SCREENSHOT") == "1" {
		// Without a Korean font Chromium draws every Hangul glyph as a box.
		fonts, err := exec.Command("fc-list", ":lang=ko").Output()
		require.NoError(t, err, "fc-list (fontconfig) lists the fonts the screenshot needs")
		require.NotEmpty(t, strings.TrimSpace(string(fonts)), "no Korean font for the screenshot: apt-get install -y fonts-noto-cjk")
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		out := filepath.Join("..", "docs", "screenshot.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, png, 0o644))
		t.Logf("saved %s", out)
	}
}

func TestCompletedOverLongPollWithoutEventSource(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")
	const id, draft = "web-lp-1", "draft-lp"
	j.setJob(t, id, "PROCESSING", draft)

	p := openPage(t, j, "/?jobId="+id, withoutEventSource)
	p.waitState(t, "waiting")
	p.waitFor(t, `document.querySelector('#transport').textContent === '롱 폴링'`, "the long poll badge")
	// Complete the job while the long poll is held, so that it is the long
	// poll that delivers.
	streamtest.Eventually(t, stepTimeout, "a long poll sent by the page", func() bool {
		return p.requested("/api/events/jobs/" + id + "/status?wait=")
	})
	j.complete(t, id, draft)
	p.waitState(t, "completed")
	p.assertResult(t)
	assert.False(t, p.requested("/stream"), "no stream without EventSource")
}

func TestPlainPoll(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")
	const id, draft = "web-poll-1", "draft-poll"
	j.setJob(t, id, "PENDING", draft)

	p := openPage(t, j, "/?transport=poll&jobId="+id)
	p.waitState(t, "waiting")
	p.waitFor(t, `document.querySelector('#transport').textContent === '폴링'`, "the poll badge")
	p.waitFor(t, `document.querySelector('#status').dataset.status === 'PENDING'`, "PENDING from the first poll")
	j.complete(t, id, draft)
	p.waitState(t, "completed")
	p.assertResult(t)
	assert.False(t, p.requested("wait="), "plain poll only")
}

// In demo mode "다시 분석" on a failed job starts a new analysis of the same
// event draft and watches the new job.
func TestFailedRetryStartsNewAnalysis(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=true", "JOBWAIT_DEMO_DELAY=1s", "JOBWAIT_DEMO_FAIL_RATE=0")
	const id, draft = "web-fail-1", "draft-retry"
	j.fail(t, id, draft, "AI 모델 응답 시간 초과")

	p := openPage(t, j, "/?jobId="+id)
	p.waitState(t, "failed")
	assert.Equal(t, "AI 모델 응답 시간 초과", p.text(t, "#error"))
	assert.Contains(t, p.text(t, "#problem"), "다시 시도해주세요")
	require.True(t, p.visible(t, "#retry"), "#retry shown")
	assert.Equal(t, "다시 분석", p.text(t, "#retry"))
	assert.False(t, p.visible(t, "#keep-waiting"))

	// A FAILED body names no event draft, so the page takes the one in its
	// form, where the user started the analysis.
	p.eval(t, `document.querySelector('#draft-id').value = '`+draft+`'; ''`)
	p.click(t, "#retry")
	p.waitFor(t, `new URLSearchParams(location.search).get('jobId') !== '`+id+`'`, "the new job's id in the URL")
	p.waitFor(t, `['waiting', 'completed'].includes(document.body.dataset.state)`, "a new wait")
	p.waitState(t, "completed")
	// The stand-in AI writes its own result: check its shape, not its words.
	assert.Equal(t, 3, p.count(t, ".card"), "recommendation cards")
	assert.NotEmpty(t, p.text(t, "#trend .summary"))
	assert.Contains(t, p.text(t, "#done-text"), draft, "the same event draft was analysed again")
}

// "다시 분석" starts a new analysis, which only demo mode can do: with the
// demo off (POST …/ai-recommendations is then no route) the page offers
// neither it nor the form that starts one; a failed job then offers
// nothing, a timed-out one "계속 기다리기" only. In demo mode both are
// offered.
func TestNewAnalysisOnlyInDemoMode(t *testing.T) {
	t.Parallel()
	for _, demo := range []bool{false, true} {
		t.Run(fmt.Sprintf("demo=%v", demo), func(t *testing.T) {
			t.Parallel()
			j := startJobwait(t, fmt.Sprintf("JOBWAIT_DEMO=%v", demo), "JOBWAIT_WAIT_BUDGET=2s")
			const failedID, runningID, draft = "web-new-failed", "web-new-running", "draft-new"
			j.fail(t, failedID, draft, "AI 모델 응답 시간 초과")
			j.setJob(t, runningID, "PROCESSING", draft)

			p := openPage(t, j, "/?jobId="+failedID)
			p.waitState(t, "failed")
			assert.Equal(t, demo, p.visible(t, "#demo"), "the form that starts an analysis")
			assert.Equal(t, demo, p.visible(t, "#retry"), "다시 분석 on a failed job")
			assert.Equal(t, demo, p.visible(t, "#actions"), "the actions row")

			p.eval(t, `document.querySelector('#job-id').value = '`+runningID+`'; document.querySelector('#watch-go').click(); ''`)
			p.waitState(t, "timeout")
			assert.Equal(t, demo, p.visible(t, "#retry"), "다시 분석 on a timed-out job")
			assert.True(t, p.visible(t, "#keep-waiting"), "계속 기다리기 on a timed-out job")
			if !demo {
				assert.False(t, p.requested("/ai-recommendations"), "no analysis started without the demo")
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=2s")
	const id, draft = "web-timeout-1", "draft-timeout"
	j.setJob(t, id, "PENDING", draft)

	p := openPage(t, j, "/?jobId="+id)
	p.waitState(t, "timeout")
	assert.Contains(t, p.text(t, "#timeout"), "2초 안에 결과가 나오지 않았습니다")
	assert.False(t, p.visible(t, "#retry"), "no new analysis without the demo")
	require.True(t, p.visible(t, "#keep-waiting"), "#keep-waiting shown")

	// "계속 기다리기" waits again on the same job and gets what it came to.
	j.complete(t, id, draft)
	p.click(t, "#keep-waiting")
	p.waitState(t, "completed")
	p.assertResult(t)
	assert.Equal(t, id, p.eval(t, `new URLSearchParams(location.search).get('jobId')`))
}

func TestUnknownJob(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")

	p := openPage(t, j, "/?jobId=no-such-job")
	p.waitState(t, "error")
	assert.Equal(t, "Job을 찾을 수 없습니다", p.text(t, "#error"))
	assert.Equal(t, "JOB_001", p.eval(t, `document.querySelector('#problem').dataset.code`))
	assert.False(t, p.visible(t, "#retry"), "nothing to retry for an unknown job")

	// A malformed id gets the server's JOB_002 the same way.
	p.eval(t, `document.querySelector('#job-id').value = 'bad:id'; document.querySelector('#watch-go').click(); ''`)
	p.waitFor(t, `document.querySelector('#problem').dataset.code === 'JOB_002'`, "JOB_002 for a bad id")
	assert.NotEmpty(t, p.text(t, "#error"))
}
