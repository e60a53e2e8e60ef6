package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/sse"
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
	doc    *openapi3.Response // the documented response
	body   any                // JSON decoded, or the text; nil when there is none
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
// its status with kin-openapi's openapi3filter: the status is documented
// (or falls to the operation's default), every required header is present,
// every documented header's value fits its schema, the Content-Type is a
// documented media type, and the body validates against its schema; a
// response documented without content has no body. It fails the test
// unless the status is want.
func (c *conformance) verify(t *testing.T, r request, f fetched, want int) answer {
	t.Helper()
	require.NoError(t, f.err, "%s %s", r.method, r.url)
	a := c.check(t, r, f.resp, f.data, false, want)
	if a.doc.Content == nil {
		assert.Empty(t, f.data, "%s %s %d: no content is documented, got a body", r.method, r.url, a.code)
	}
	a.body = decodeBody(t, r, f.resp, f.data)
	return a
}

// decodeBody decodes a JSON body, or returns the text; nil when there is
// none.
func decodeBody(t *testing.T, r request, resp *http.Response, data []byte) any {
	t.Helper()
	if len(data) == 0 {
		return nil
	}
	if mediaType(resp.Header.Get("Content-Type")) != "application/json" {
		return string(data)
	}
	var v any
	assert.NoError(t, json.Unmarshal(data, &v), "%s %s %d: body is not JSON: %s", r.method, r.url, resp.StatusCode, data)
	return v
}

// undocumented requests a URL that is no documented operation and checks
// the answer is the document's generic error (components/responses/Error).
func (c *conformance) undocumented(t *testing.T, r request, want int) answer {
	t.Helper()
	f := c.fetch(r)
	require.NoError(t, f.err, "%s %s", r.method, r.url)
	assert.Equal(t, want, f.resp.StatusCode, "%s %s: status", r.method, r.url)
	doc := c.o.doc.Components.Responses["Error"].Value
	a := answer{code: f.resp.StatusCode, header: f.resp.Header, doc: doc, body: decodeBody(t, r, f.resp, f.data)}
	media := doc.Content.Get(f.resp.Header.Get("Content-Type"))
	if assert.NotNil(t, media, "%s %s: Content-Type %q", r.method, r.url, f.resp.Header.Get("Content-Type")) {
		assert.NoError(t, media.Schema.Value.VisitJSON(a.body, openapi3.VisitAsResponse()), "%s %s: body %s", r.method, r.url, f.data)
	}
	return a
}

// open sends r, checks status, headers and content type as verify does,
// and returns the response with its body unread, for a stream.
func (c *conformance) open(t *testing.T, r request, want int) (answer, *http.Response) {
	t.Helper()
	resp, err := c.send(r)
	require.NoError(t, err, "%s %s", r.method, r.url)
	t.Cleanup(func() { resp.Body.Close() })
	return c.check(t, r, resp, nil, true, want), resp
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

// check validates a response to the documented operation of r with
// openapi3filter.ValidateResponse, its body data too unless it is a
// stream, read event by event and checked by checkEvent. It notes which
// documented response the answer was.
func (c *conformance) check(t *testing.T, r request, resp *http.Response, data []byte, stream bool, want int) answer {
	t.Helper()
	at := fmt.Sprintf("%s %s → %d", r.method, r.url, resp.StatusCode)
	require.Equal(t, want, resp.StatusCode, "%s %s: status", r.method, r.url)
	op := c.o.operation(r.path, r.method)
	require.NotNil(t, op, "%s %s is not documented", r.method, r.path)
	key := responseKey(op, resp.StatusCode)
	require.NotEmpty(t, key, "%s: status not documented for %s %s", at, r.method, r.path)
	c.mu.Lock()
	c.seen[strings.ToLower(r.method)+" "+r.path+" "+key] = true
	c.mu.Unlock()

	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: resp.Request,
			Route: &routers.Route{Spec: c.o.doc, Path: r.path, PathItem: c.o.doc.Paths.Value(r.path),
				Method: r.method, Operation: op},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: stream},
	}
	in.SetBodyBytes(data)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), in), "%s: body %s", at, data)
	doc := op.Responses.Value(key).Value
	if stream && doc.Content != nil {
		// Without the body, openapi3filter leaves the Content-Type alone.
		assert.NotNil(t, doc.Content.Get(resp.Header.Get("Content-Type")), "%s: Content-Type %q is not documented", at, resp.Header.Get("Content-Type"))
	}
	return answer{code: resp.StatusCode, header: resp.Header, doc: doc}
}

// responseKey is the key of op's documented response for code, as
// openapi3filter picks it: its own ("404"), its class ("4XX") or
// "default"; "" when none.
func responseKey(op *openapi3.Operation, code int) string {
	for _, k := range []string{strconv.Itoa(code), fmt.Sprintf("%dXX", code/100), "default"} {
		if op.Responses.Value(k) != nil {
			return k
		}
	}
	return ""
}

// checkEvent validates an event against the x-events of the documented
// stream path's media type: its name is documented, it has an id, and its
// data is JSON that validates against the event's schema. It returns the data.
func (c *conformance) checkEvent(t *testing.T, path string, ev sse.Event) obj {
	t.Helper()
	schema, err := c.o.eventSchema(path, ev.Type)
	if !assert.NoError(t, err) {
		return nil
	}
	assert.NotEmpty(t, ev.ID, "event %q has no id", ev.Type)
	var v any
	if !assert.NoError(t, json.Unmarshal([]byte(ev.Data), &v), "event %q data is not JSON: %s", ev.Type, ev.Data) {
		return nil
	}
	assert.NoError(t, schema.VisitJSON(v, openapi3.VisitAsResponse()), "event %s data: %s", ev.Type, ev.Data)
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

// obj is a decoded JSON object.
type obj = map[string]any

// get walks keys down decoded JSON; nil if any is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mediaType(contentType string) string {
	m, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return m
}

// The page's body is text; openapi3filter has no decoder of its own for it.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }
