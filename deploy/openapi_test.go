package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAPI is docs/openapi.yaml as kin-openapi loads it, every $ref
// resolved.
type openAPI struct{ doc *openapi3.T }

// loadOpenAPI loads docs/openapi.yaml and validates it as an OpenAPI 3.0
// document: its structure, its references, and every example against its
// schema.
func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	doc, err := parseOpenAPI(readFile(t, "docs/openapi.yaml"))
	require.NoError(t, err, "docs/openapi.yaml")
	return openAPI{doc}
}

func parseOpenAPI(data []byte) (*openapi3.T, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(l.Context, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

// operation is the document's operation for method (GET, POST, …) on path.
func (o openAPI) operation(path, method string) *openapi3.Operation {
	item := o.doc.Paths.Value(path)
	if item == nil {
		return nil
	}
	return item.GetOperation(strings.ToUpper(method))
}

// schema is the component schema name.
func (o openAPI) schema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	s := o.doc.Components.Schemas[name]
	require.NotNil(t, s, "schema %s", name)
	return s.Value
}

// eventSchema is the schema of a stream event's data: the x-events entry
// of path's text/event-stream, a $ref to a component schema or a oneOf of
// such. kin-openapi leaves extensions as they are written, so the
// references are followed here.
func (o openAPI) eventSchema(path, event string) (*openapi3.Schema, error) {
	events, err := o.events(path)
	if err != nil {
		return nil, err
	}
	ev, ok := events[event].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("event %q is not documented in x-events (%v)", event, sortedKeys(events))
	}
	if alts, ok := get(ev, "schema", "oneOf").([]any); ok {
		one := &openapi3.Schema{}
		for _, alt := range alts {
			s, err := o.componentSchema(event, get(alt, "$ref"))
			if err != nil {
				return nil, err
			}
			one.OneOf = append(one.OneOf, openapi3.NewSchemaRef("", s))
		}
		return one, nil
	}
	return o.componentSchema(event, get(ev, "schema", "$ref"))
}

// componentSchema is the component schema ref names, for event.
func (o openAPI) componentSchema(event string, ref any) (*openapi3.Schema, error) {
	r, _ := ref.(string)
	name, ok := strings.CutPrefix(r, "#/components/schemas/")
	if s := o.doc.Components.Schemas[name]; ok && s != nil {
		return s.Value, nil
	}
	return nil, fmt.Errorf("event %q: schema $ref %q names no component schema", event, r)
}

// events is the x-events of path's 200 text/event-stream.
func (o openAPI) events(path string) (map[string]any, error) {
	media, err := o.streamMedia(path)
	if err != nil {
		return nil, err
	}
	events, ok := media.Extensions["x-events"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the stream's x-events are not documented", path)
	}
	return events, nil
}

// streamMedia is path's 200 text/event-stream content.
func (o openAPI) streamMedia(path string) (*openapi3.MediaType, error) {
	op := o.operation(path, "GET")
	if op == nil || op.Responses.Value("200") == nil {
		return nil, fmt.Errorf("GET %s 200 is not documented", path)
	}
	media := op.Responses.Value("200").Value.Content.Get("text/event-stream")
	if media == nil {
		return nil, fmt.Errorf("GET %s 200 is not text/event-stream", path)
	}
	return media, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIPaths(t *testing.T) {
	o := loadOpenAPI(t)
	assert.True(t, strings.HasPrefix(o.doc.OpenAPI, "3.0."), "openapi version %v", o.doc.OpenAPI)

	want := map[string][]string{
		"/api/events/jobs/{jobId}/status":               {"GET"},
		"/api/events/jobs/{jobId}/stream":               {"GET"},
		"/api/events/jobs/status":                       {"GET"},
		"/api/events/jobs/stream":                       {"GET"},
		"/api/events/{eventDraftId}/ai-recommendations": {"POST"},
		"/healthz":  {"GET"},
		"/readyz":   {"GET"},
		"/metrics":  {"GET"},
		"/api/info": {"GET"},
		"/":         {"GET"},
	}
	assert.ElementsMatch(t, sortedKeys(want), o.doc.Paths.Keys(), "paths")
	for path, methods := range want {
		assert.ElementsMatch(t, methods, sortedKeys(o.doc.Paths.Value(path).Operations()), "%s methods", path)
	}
	// The API's security, declared: none yet.
	require.NotNil(t, o.doc.Security, "top-level security")
	assert.Empty(t, o.doc.Security, "no security requirement")
}

func TestOpenAPISchemas(t *testing.T) {
	o := loadOpenAPI(t)
	required := map[string][]string{
		"JobPending":     {"jobId", "status", "message"},
		"JobCompleted":   {"jobId", "status", "eventDraftId", "trendAnalysis", "recommendations"},
		"JobFailed":      {"jobId", "status", "error", "message"},
		"Recommendation": {"title", "prize", "method", "cost", "roi"},
		"JobCreated":     {"jobId", "status"},
		"Error":          {"code", "message"},
		"Readiness":      {"status", "redis", "subscription", "notify", "notifications", "auth"},
		"AuthReadiness":  {"mode", "source"},
		"JobProblem":     {"jobId", "code", "message"},
		"ManyJobStatus":  {"jobs"},
		"Info":           {"demo", "waitBudgetMs", "pollIntervalMs", "notify"},
	}
	optional := map[string][]string{
		"JobPending":    {"timedOut"},
		"JobFailed":     {"timedOut"},
		"ManyJobStatus": {"timedOut"},
		"Readiness":     {"blind", "missing", "reason"},
		"AuthReadiness": {"keys", "fetched", "stale", "error"},
	}
	for name, req := range required {
		s := o.schema(t, name)
		assert.ElementsMatch(t, req, s.Required, "%s required", name)
		assert.ElementsMatch(t, append(slices.Clone(req), optional[name]...), sortedKeys(s.Properties), "%s properties", name)
		if assert.NotNil(t, s.AdditionalProperties.Has, "%s additionalProperties", name) {
			assert.False(t, *s.AdditionalProperties.Has, "%s should allow no other properties", name)
		}
	}

	enums := []struct {
		schema, prop string
		want         []any
	}{
		{"Error", "code", []any{"JOB_001", "JOB_002", "JOB_003", "AUTH_001", "AUTH_002", "REQ_001", "REQ_002", "REQ_003", "REQ_004", "SVC_001", "SVC_002", "INT_001"}},
		{"AuthReadiness", "mode", []any{"off", "optional", "required"}},
		{"AuthReadiness", "source", []any{"none", "secret", "jwks"}},
		{"Readiness", "status", []any{"ok", "degraded", "unavailable"}},
		{"Readiness", "notifications", []any{"ok", "blind"}},
		{"Readiness", "redis", []any{"up", "down", "refused"}},
		{"Readiness", "subscription", []any{"up", "down"}},
		{"Readiness", "notify", []any{"keyspace", "poll"}},
		{"Info", "notify", []any{"keyspace", "poll"}},
		{"JobPending", "status", []any{"PENDING", "PROCESSING"}},
		{"JobCompleted", "status", []any{"COMPLETED"}},
		{"JobFailed", "status", []any{"FAILED"}},
	}
	for _, e := range enums {
		assert.ElementsMatch(t, e.want, o.schema(t, e.schema).Properties[e.prop].Value.Enum, "%s.%s enum", e.schema, e.prop)
	}
	types := map[string]string{"demo": "boolean", "waitBudgetMs": "integer", "pollIntervalMs": "integer", "notify": "string"}
	for prop, typ := range types {
		assert.True(t, o.schema(t, "Info").Properties[prop].Value.Type.Is(typ), "Info.%s type is %s", prop, typ)
	}
}

func TestOpenAPIOperations(t *testing.T) {
	o := loadOpenAPI(t)
	resp := func(path, method, code string) *openapi3.Response {
		t.Helper()
		op := o.operation(path, method)
		require.NotNil(t, op, "%s %s", method, path)
		r := op.Responses.Value(code)
		require.NotNil(t, r, "%s %s has no %s response", method, path, code)
		return r.Value
	}
	jsonSchema := func(r *openapi3.Response) *openapi3.SchemaRef {
		if m := r.Content.Get("application/json"); m != nil {
			return m.Schema
		}
		return nil
	}

	status := "/api/events/jobs/{jobId}/status"
	assert.ElementsMatch(t, []string{"Cache-Control", "Retry-After"}, sortedKeys(resp(status, "get", "200").Headers), "status 200 headers")
	for code, errCode := range map[string]string{"400": "JOB_002", "404": "JOB_001", "502": "JOB_003", "503": "SVC_001"} {
		assert.NotNil(t, jsonSchema(resp(status, "get", code)), "status %s body (%s)", code, errCode)
	}
	assert.NotNil(t, resp(status, "get", "503").Headers["Retry-After"], "SVC_001 carries Retry-After")
	var params []string
	for _, p := range o.operation(status, "get").Parameters {
		params = append(params, p.Value.In+":"+p.Value.Name)
	}
	assert.ElementsMatch(t, []string{"path:jobId", "query:access_token", "query:wait"}, params, "status parameters")

	// The waiting operations take a wait token, and say how they refuse one.
	scheme := o.doc.Components.SecuritySchemes["bearerAuth"]
	if assert.NotNil(t, scheme, "securitySchemes.bearerAuth") {
		assert.Equal(t, []string{"http", "bearer", "JWT"}, []string{scheme.Value.Type, scheme.Value.Scheme, scheme.Value.BearerFormat})
	}
	for _, path := range []string{status, "/api/events/jobs/{jobId}/stream", "/api/events/jobs/status", "/api/events/jobs/stream"} {
		op := o.operation(path, "get")
		require.NotNil(t, op.Security, "%s security", path)
		assert.Equal(t, openapi3.SecurityRequirements{{"bearerAuth": {}}, {}}, *op.Security, "%s: a bearer token, or none (JOBWAIT_AUTH off)", path)
		assert.True(t, slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool {
			return p.Value.In == "query" && p.Value.Name == "access_token"
		}), "%s takes ?access_token=", path)
		assert.NotNil(t, resp(path, "get", "401").Headers["WWW-Authenticate"], "%s 401 challenges", path)
		assert.NotNil(t, jsonSchema(resp(path, "get", "401")), "%s 401 body", path)
		assert.NotNil(t, jsonSchema(resp(path, "get", "403")), "%s 403 body", path)
	}

	stream := "/api/events/jobs/{jobId}/stream"
	assert.NotNil(t, resp(stream, "get", "200").Content.Get("text/event-stream"), "stream 200 is text/event-stream")
	resp(stream, "get", "204")
	resp(stream, "get", "404")
	for _, stream := range []string{stream, "/api/events/jobs/stream"} {
		var lastEventID []string
		for _, p := range o.operation(stream, "get").Parameters {
			if n := p.Value.Name; n == "Last-Event-ID" || n == "lastEventId" {
				lastEventID = append(lastEventID, p.Value.In+":"+n)
			}
		}
		assert.ElementsMatch(t, []string{"header:Last-Event-ID", "query:lastEventId"}, lastEventID, "%s resumes from the header or the query", stream)
		// kin-openapi does not follow references in extensions: each
		// event's schema is followed here.
		events, err := o.events(stream)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"status", "completed", "failed", "timeout", "problem"}, sortedKeys(events), "%s events", stream)
		for name := range events {
			_, err := o.eventSchema(stream, name)
			assert.NoError(t, err, stream)
		}
	}

	create := "/api/events/{eventDraftId}/ai-recommendations"
	assert.NotNil(t, resp(create, "post", "202").Headers["Location"], "202 carries Location")

	for path, code := range map[string]string{"/readyz": "503", "/api/info": "200"} {
		assert.NotNil(t, jsonSchema(resp(path, "get", code)), "%s %s JSON", path, code)
	}
	assert.NotNil(t, resp("/metrics", "get", "200").Content.Get("text/plain"))
	assert.NotNil(t, resp("/", "get", "200").Content.Get("text/html"))
}

// TestOpenAPIExamples: the document has examples, and loadOpenAPI checks
// each against its schema: one made wrong fails the load.
func TestOpenAPIExamples(t *testing.T) {
	o := loadOpenAPI(t)
	n := 0
	for _, item := range o.doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, r := range op.Responses.Map() {
				if m := r.Value.Content.Get("application/json"); m != nil {
					n += len(m.Examples)
					if m.Example != nil {
						n++
					}
				}
			}
		}
	}
	assert.Greater(t, n, 10, "JSON examples")

	src := string(readFile(t, "docs/openapi.yaml"))
	good := `{jobId: "7f0c2a", status: PROCESSING, message: "AI가 분석 중입니다"}`
	require.Contains(t, src, good)
	_, err := parseOpenAPI([]byte(strings.Replace(src, good, `{jobId: "7f0c2a", status: DONE, message: "AI가 분석 중입니다"}`, 1)))
	assert.ErrorContains(t, err, "DONE", "an example that breaks its schema fails the load")
}

// TestOpenAPIValidate shows the schemas reject what the contract forbids.
func TestOpenAPIValidate(t *testing.T) {
	o := loadOpenAPI(t)
	tests := []struct {
		body  string
		valid bool
	}{
		{`{"jobId":"a","status":"PENDING","message":"m"}`, true},
		{`{"jobId":"a","status":"PROCESSING","message":"m","timedOut":true}`, true},
		{`{"jobId":"a","status":"FAILED","error":"e","message":"m"}`, true},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","trendAnalysis":{},"recommendations":[]}`, true},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","trendAnalysis":"text","recommendations":[]}`, true},
		{`{"jobId":"a","status":"PENDING"}`, false},
		{`{"jobId":"a","status":"PENDING","message":"m","extra":1}`, false},
		{`{"jobId":"a","status":"DONE","message":"m"}`, false},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","trendAnalysis":{},"recommendations":[{"title":"t"}]}`, false},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","recommendations":[]}`, false},
		{`{"jobId":"a","status":"PENDING","message":"m","timedOut":false}`, false},
		{`{"jobId":"a","status":"FAILED","message":"m"}`, false},
	}
	for _, tt := range tests {
		var v any
		require.NoError(t, json.Unmarshal([]byte(tt.body), &v))
		err := o.schema(t, "JobStatus").VisitJSON(v, openapi3.VisitAsResponse())
		assert.Equal(t, tt.valid, err == nil, "validate(%s) = %v; want valid %v", tt.body, err, tt.valid)
	}
	err := o.schema(t, "Error").VisitJSON(map[string]any{"code": "XYZ_999", "message": "m"}, openapi3.VisitAsResponse())
	assert.Error(t, err, "an unknown error code")
}

// TestOpenAPILoadRefusesBrokenRefs: a $ref that names nothing fails the
// load, so every reference of the document resolves.
func TestOpenAPILoadRefusesBrokenRefs(t *testing.T) {
	src := string(readFile(t, "docs/openapi.yaml"))
	ref := `$ref: '#/components/responses/JobNotFound'`
	require.Contains(t, src, ref)
	_, err := parseOpenAPI([]byte(strings.Replace(src, ref, `$ref: '#/components/responses/NoSuchResponse'`, 1)))
	assert.ErrorContains(t, err, "NoSuchResponse")
}
