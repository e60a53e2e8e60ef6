package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/sse"
)

// The documented paths the conformance test drives.
const (
	statusPath     = "/api/events/jobs/{jobId}/status"
	streamPath     = "/api/events/jobs/{jobId}/stream"
	manyStatusPath = "/api/events/jobs/status"
	manyStreamPath = "/api/events/jobs/stream"
	demoPath       = "/api/events/{eventDraftId}/ai-recommendations"
)

// conformance checks real answers of one or more running jobwaits against
// docs/openapi.yaml and remembers which documented responses it has seen.
type conformance struct {
	o      openAPI
	client *http.Client

	mu   sync.Mutex
	seen map[string]bool // "get /path 200"
}

// request is one HTTP request to a documented operation.
type request struct {
	base   string // http://127.0.0.1:port
	method string // GET, POST, ...
	path   string // the document's path template, e.g. statusPath
	url    string // what is requested, e.g. /api/events/jobs/j1/status?wait=1
	header http.Header
	body   string
}

// answer is a response whose status, headers and content type conform.
type answer struct {
	code   int
	header http.Header
	doc    any // the documented response object
	body   any // JSON decoded, or the text; nil when there is none
}

// do sends r and checks the answer (see verify).
func (c *conformance) do(t *testing.T, r request, want int) answer {
	t.Helper()
	return c.verify(t, r, c.fetch(r), want)
}

// fetched is a response read in full, or the error that stopped it. fetch
// may run on any goroutine; verify runs on the test's.
type fetched struct {
	resp *http.Response
	data []byte
	err  error
}

// fetchAsync fetches r on a goroutine of its own; receive with await.
func (c *conformance) fetchAsync(r request) <-chan fetched {
	ch := make(chan fetched, 1)
	go func() { ch <- c.fetch(r) }()
	return ch
}

// await receives a fetch, bounded: the client's own timeout ends it sooner.
func await(t *testing.T, ch <-chan fetched) fetched {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(15 * time.Second):
		t.Fatal("no answer")
		return fetched{}
	}
}

func (c *conformance) fetch(r request) fetched {
	resp, err := c.send(r)
	if err != nil {
		return fetched{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return fetched{resp, data, err}
}

// verify checks an answer against the operation's documented response for
// its status: the status is documented (or falls to the operation's
// default), every required header is present, every documented header's
// value fits its schema, the Content-Type is a documented media type, and a
// JSON body validates against its schema. It fails the test unless the
// status is want.
func (c *conformance) verify(t *testing.T, r request, f fetched, want int) answer {
	t.Helper()
	require.NoError(t, f.err, "%s %s", r.method, r.url)
	a := c.check(t, r, f.resp, want)
	c.body(t, r, &a, f.resp, f.data)
	return a
}

// body checks the body against the documented response a.doc and decodes it
// into a.body.
func (c *conformance) body(t *testing.T, r request, a *answer, resp *http.Response, data []byte) {
	t.Helper()
	media := mediaType(resp.Header.Get("Content-Type"))
	switch {
	case get(a.doc, "content") == nil:
		assert.Empty(t, data, "%s %s %d: no content is documented, got a body", r.method, r.url, a.code)
	case media == "application/json":
		var v any
		if assert.NoError(t, json.Unmarshal(data, &v), "%s %s %d: body is not JSON: %s", r.method, r.url, a.code, data) {
			schema := get(a.doc, "content", media, "schema")
			assert.NoError(t, c.o.validate(schema, v, fmt.Sprintf("%s %s %d body", r.method, r.url, a.code)), "body: %s", data)
			a.body = v
		}
	default:
		a.body = string(data)
	}
}

// undocumented requests a URL that is no documented operation and checks
// the answer is the document's generic error (components/responses/Error).
func (c *conformance) undocumented(t *testing.T, r request, want int) answer {
	t.Helper()
	f := c.fetch(r)
	require.NoError(t, f.err, "%s %s", r.method, r.url)
	assert.Equal(t, want, f.resp.StatusCode, "%s %s: status", r.method, r.url)
	doc, err := c.o.resolve(obj{"$ref": "#/components/responses/Error"})
	require.NoError(t, err)
	assert.Contains(t, keys(get(doc, "content")), mediaType(f.resp.Header.Get("Content-Type")), "%s %s: Content-Type", r.method, r.url)
	a := answer{code: f.resp.StatusCode, header: f.resp.Header, doc: doc}
	c.body(t, r, &a, f.resp, f.data)
	return a
}

// open sends r, checks status, headers and content type as verify does,
// and returns the response with its body unread, for a stream.
func (c *conformance) open(t *testing.T, r request, want int) (answer, *http.Response) {
	t.Helper()
	resp, err := c.send(r)
	require.NoError(t, err, "%s %s", r.method, r.url)
	t.Cleanup(func() { resp.Body.Close() })
	return c.check(t, r, resp, want), resp
}

func (c *conformance) send(r request) (*http.Response, error) {
	req, err := http.NewRequest(r.method, r.base+r.url, strings.NewReader(r.body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	return c.client.Do(req)
}

func (c *conformance) check(t *testing.T, r request, resp *http.Response, want int) answer {
	t.Helper()
	at := fmt.Sprintf("%s %s → %d", r.method, r.url, resp.StatusCode)
	require.Equal(t, want, resp.StatusCode, "%s %s: status", r.method, r.url)
	method := strings.ToLower(r.method)
	op := get(c.o.doc, "paths", r.path, method)
	require.NotNil(t, op, "%s %s is not documented", method, r.path)
	key, doc, err := c.o.response(op, resp.StatusCode)
	require.NoError(t, err, "%s: status not documented for %s %s", at, method, r.path)
	c.mu.Lock()
	c.seen[method+" "+r.path+" "+key] = true
	c.mu.Unlock()

	for name, h := range asObj(get(doc, "headers")) {
		h, err := c.o.resolve(h)
		require.NoError(t, err)
		v, present := resp.Header[http.CanonicalHeaderKey(name)]
		if get(h, "required") == true {
			assert.True(t, present, "%s: documented required header %s missing", at, name)
		}
		if present {
			assert.NoError(t, c.o.validateHeader(get(h, "schema"), v[0], at+" header "+name))
		}
	}
	if content := asObj(get(doc, "content")); content != nil {
		media := mediaType(resp.Header.Get("Content-Type"))
		assert.Contains(t, keys(content), media, "%s: Content-Type %q is not documented", at, resp.Header.Get("Content-Type"))
	}
	return answer{code: resp.StatusCode, header: resp.Header, doc: doc}
}

// checkEvent validates an event against the x-events of the documented
// stream path's media type: its name is documented, it has an id, and its
// data is JSON that validates against the event's schema. It returns the data.
func (c *conformance) checkEvent(t *testing.T, path string, ev sse.Event) obj {
	t.Helper()
	events := get(c.o.doc, "paths", path, "get", "responses", "200", "content", "text/event-stream", "x-events")
	require.NotNil(t, events, "the stream's x-events are not documented")
	doc := get(events, ev.Type)
	if !assert.NotNil(t, doc, "event %q is not documented in x-events (%v)", ev.Type, keys(events)) {
		return nil
	}
	assert.NotEmpty(t, ev.ID, "event %q has no id", ev.Type)
	var v any
	if !assert.NoError(t, json.Unmarshal([]byte(ev.Data), &v), "event %q data is not JSON: %s", ev.Type, ev.Data) {
		return nil
	}
	assert.NoError(t, c.o.validate(get(doc, "schema"), v, "event "+ev.Type), "data: %s", ev.Data)
	m, _ := v.(obj)
	return m
}

// readStream reads a whole stream (until the server ends it), checking
// every event against the documented stream it was asked of; after is
// called with each event before the next is read.
func (c *conformance) readStream(t *testing.T, resp *http.Response, after func(sse.Event, obj)) []sse.Event {
	t.Helper()
	path := streamPath
	if resp.Request.URL.Path == manyStreamPath {
		path = manyStreamPath
	}
	got, first := readEvents(t, resp.Body, func(ev sse.Event) {
		data := c.checkEvent(t, path, ev)
		if after != nil {
			after(ev, data)
		}
	})
	assert.Equal(t, "retry: 2000", first, "the stream's first line")
	return got
}
