package deploy

import (
	"fmt"
	"mime"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// obj is a decoded YAML mapping.
type obj = map[string]any

// openAPI is docs/openapi.yaml decoded, with a $ref resolver.
type openAPI struct{ doc obj }

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	var doc obj
	require.NoError(t, yaml.Unmarshal(readFile(t, "docs/openapi.yaml"), &doc), "parse docs/openapi.yaml")
	return openAPI{doc}
}

// get walks keys from the document root; nil if any is missing.
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

// resolve follows a local $ref ("#/components/...").
func (o openAPI) resolve(v any) (any, error) {
	for i := 0; i < 10; i++ {
		m, ok := v.(obj)
		if !ok {
			return v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %q is not local", ref)
		}
		v = get(o.doc, strings.Split(ref[2:], "/")...)
		if v == nil {
			return nil, fmt.Errorf("$ref %q names nothing", ref)
		}
	}
	return nil, fmt.Errorf("$ref loop")
}

// schemaKeywords are the schema keywords validate checks, and the
// annotations it may ignore. A schema with any other keyword is an error: a
// constraint the validator does not check would pass every response, and
// conformance_test.go would stop proving what the document says.
var schemaKeywords = map[string]bool{
	"$ref": true, "oneOf": true, "type": true, "enum": true, "pattern": true,
	"required": true, "properties": true, "additionalProperties": true, "items": true,
	// annotations
	"description": true, "example": true, "discriminator": true, "title": true,
}

// validate checks value against schema for the keywords these schemas use:
// $ref, oneOf, type, enum, pattern, required, properties,
// additionalProperties (false or a schema), items. It is what a test of real
// responses needs (conformance_test.go), and refuses a schema that uses any
// other keyword rather than ignore it.
func (o openAPI) validate(schema, value any, at string) error {
	s, err := o.resolve(schema)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	sm, ok := s.(obj)
	if !ok {
		return fmt.Errorf("%s: schema is %T", at, s)
	}
	for k := range sm {
		if !schemaKeywords[k] {
			return fmt.Errorf("%s: schema keyword %q is not checked by validate: teach it, or drop the keyword", at, k)
		}
	}
	if one, ok := sm["oneOf"].([]any); ok {
		var matched []int
		var errs []string
		for i, sub := range one {
			if err := o.validate(sub, value, at); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched = append(matched, i)
			}
		}
		if len(matched) != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (want 1): %s", at, len(matched), strings.Join(errs, "; "))
		}
		return nil
	}
	if typ, ok := sm["type"].(string); ok {
		if err := checkType(typ, value); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	if enum, ok := sm["enum"].([]any); ok && !slices.Contains(enum, value) {
		return fmt.Errorf("%s: %v not in enum %v", at, value, enum)
	}
	if p, ok := sm["pattern"].(string); ok {
		str, _ := value.(string)
		if !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", at, str, p)
		}
	}
	if m, ok := value.(obj); ok {
		props, _ := sm["properties"].(obj)
		for _, r := range asStrings(sm["required"]) {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required %q missing", at, r)
			}
		}
		for k, v := range m {
			if ps, ok := props[k]; ok {
				if err := o.validate(ps, v, at+"."+k); err != nil {
					return err
				}
			} else if sm["additionalProperties"] == false {
				return fmt.Errorf("%s: unexpected property %q", at, k)
			} else if extra, ok := sm["additionalProperties"].(obj); ok {
				if err := o.validate(extra, v, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if list, ok := value.([]any); ok && sm["items"] != nil {
		for i, v := range list {
			if err := o.validate(sm["items"], v, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// response finds the documented response for code: its own, its class
// ("4XX") or the operation's default. key says which.
func (o openAPI) response(op any, code int) (key string, r any, err error) {
	responses := get(op, "responses")
	for _, k := range []string{strconv.Itoa(code), fmt.Sprintf("%dXX", code/100), "default"} {
		if v := get(responses, k); v != nil {
			r, err := o.resolve(v)
			return k, r, err
		}
	}
	return "", nil, fmt.Errorf("status %d is not documented", code)
}

// validateHeader validates a header's text against its schema, read as the
// schema's type.
func (o openAPI) validateHeader(schema any, text, at string) error {
	s, err := o.resolve(schema)
	if err != nil {
		return err
	}
	var v any = text
	switch get(s, "type") {
	case "integer":
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", at, text)
		}
		v = n
	case "boolean":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean", at, text)
		}
		v = b
	}
	return o.validate(s, v, at)
}

func mediaType(contentType string) string {
	m, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return m
}

func checkType(typ string, v any) error {
	ok := false
	switch typ {
	case "object":
		_, ok = v.(obj)
	case "array":
		_, ok = v.([]any)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "integer":
		switch n := v.(type) {
		case int, int64, uint64:
			ok = true
		case float64:
			ok = n == float64(int64(n))
		}
	case "number":
		switch v.(type) {
		case int, int64, uint64, float64:
			ok = true
		}
	default:
		return fmt.Errorf("unknown type %q", typ)
	}
	if !ok {
		return fmt.Errorf("%v (%T) is not %s", v, v, typ)
	}
	return nil
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func keys(v any) []string {
	m, _ := v.(obj)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIPaths(t *testing.T) {
	o := loadOpenAPI(t)
	assert.True(t, strings.HasPrefix(fmt.Sprint(o.doc["openapi"]), "3.0."), "openapi version %v", o.doc["openapi"])

	want := map[string][]string{
		"/api/events/jobs/{jobId}/status":               {"get"},
		"/api/events/jobs/{jobId}/stream":               {"get"},
		"/api/events/jobs/status":                       {"get"},
		"/api/events/jobs/stream":                       {"get"},
		"/api/events/{eventDraftId}/ai-recommendations": {"post"},
		"/healthz":  {"get"},
		"/readyz":   {"get"},
		"/metrics":  {"get"},
		"/api/info": {"get"},
		"/":         {"get"},
	}
	paths := get(o.doc, "paths")
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	assert.ElementsMatch(t, wantPaths, keys(paths), "paths")
	for path, methods := range want {
		for _, m := range methods {
			op := get(paths, path, m)
			if assert.NotNil(t, op, "%s %s", m, path) {
				assert.NotEmpty(t, get(op, "responses"), "%s %s has no responses", m, path)
			}
		}
	}
}

// TestOpenAPIRefs resolves every $ref in the document.
func TestOpenAPIRefs(t *testing.T) {
	o := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case obj:
			if _, ok := v["$ref"]; ok {
				_, err := o.resolve(v)
				assert.NoError(t, err, at)
			}
			for k, c := range v {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(o.doc, "#")
}

func TestOpenAPISchemas(t *testing.T) {
	o := loadOpenAPI(t)
	schemas := get(o.doc, "components", "schemas")

	required := map[string][]string{
		"JobPending":     {"jobId", "status", "message"},
		"JobCompleted":   {"jobId", "status", "eventDraftId", "trendAnalysis", "recommendations"},
		"JobFailed":      {"jobId", "status", "error", "message"},
		"Recommendation": {"title", "prize", "method", "cost", "roi"},
		"JobCreated":     {"jobId", "status"},
		"Error":          {"code", "message"},
		"Readiness":      {"status", "redis", "subscription", "notify", "notifications"},
		"JobProblem":     {"jobId", "code", "message"},
		"ManyJobStatus":  {"jobs"},
		"Info":           {"demo", "waitBudgetMs", "pollIntervalMs", "notify"},
	}
	optional := map[string][]string{
		"JobPending":    {"timedOut"},
		"JobFailed":     {"timedOut"},
		"ManyJobStatus": {"timedOut"},
		"Readiness":     {"blind", "missing", "reason"},
	}
	for name, req := range required {
		s := get(schemas, name)
		require.NotNil(t, s, "schema %s", name)
		assert.ElementsMatch(t, req, asStrings(get(s, "required")), "%s required", name)
		assert.ElementsMatch(t, append(slices.Clone(req), optional[name]...), keys(get(s, "properties")), "%s properties", name)
		assert.Equal(t, false, get(s, "additionalProperties"), "%s should allow no other properties", name)
	}

	enums := []struct {
		schema, prop string
		want         []string
	}{
		{"Error", "code", []string{"JOB_001", "JOB_002", "JOB_003", "REQ_001", "REQ_002", "REQ_003", "REQ_004", "SVC_001", "SVC_002", "INT_001"}},
		{"Readiness", "status", []string{"ok", "degraded", "unavailable"}},
		{"Readiness", "notifications", []string{"ok", "blind"}},
		{"Readiness", "redis", []string{"up", "down", "refused"}},
		{"Readiness", "subscription", []string{"up", "down"}},
		{"Readiness", "notify", []string{"keyspace", "poll"}},
		{"Info", "notify", []string{"keyspace", "poll"}},
		{"JobPending", "status", []string{"PENDING", "PROCESSING"}},
		{"JobCompleted", "status", []string{"COMPLETED"}},
		{"JobFailed", "status", []string{"FAILED"}},
	}
	for _, e := range enums {
		assert.ElementsMatch(t, e.want, asStrings(get(schemas, e.schema, "properties", e.prop, "enum")), "%s.%s enum", e.schema, e.prop)
	}
	types := map[string]string{"demo": "boolean", "waitBudgetMs": "integer", "pollIntervalMs": "integer", "notify": "string"}
	for prop, typ := range types {
		assert.Equal(t, typ, get(schemas, "Info", "properties", prop, "type"), "Info.%s type", prop)
	}
}

func TestOpenAPIOperations(t *testing.T) {
	o := loadOpenAPI(t)
	paths := get(o.doc, "paths")
	resp := func(path, method, code string) any {
		t.Helper()
		r, err := o.resolve(get(paths, path, method, "responses", code))
		require.NoError(t, err)
		require.NotNil(t, r, "%s %s has no %s response", method, path, code)
		return r
	}

	status := "/api/events/jobs/{jobId}/status"
	ok := resp(status, "get", "200")
	assert.ElementsMatch(t, []string{"Cache-Control", "Retry-After"}, keys(get(ok, "headers")), "status 200 headers")
	for code, errCode := range map[string]string{"400": "JOB_002", "404": "JOB_001", "502": "JOB_003", "503": "SVC_001"} {
		assert.NotNil(t, get(resp(status, "get", code), "content", "application/json", "schema"), "status %s body (%s)", code, errCode)
	}
	assert.NotNil(t, get(resp(status, "get", "503"), "headers", "Retry-After"), "SVC_001 carries Retry-After")
	var params []string
	for _, p := range get(paths, status, "get", "parameters").([]any) {
		p, err := o.resolve(p)
		require.NoError(t, err)
		params = append(params, fmt.Sprint(get(p, "in"), ":", get(p, "name")))
	}
	assert.ElementsMatch(t, []string{"path:jobId", "query:wait"}, params, "status parameters")

	stream := "/api/events/jobs/{jobId}/stream"
	assert.NotNil(t, get(resp(stream, "get", "200"), "content", "text/event-stream"), "stream 200 is text/event-stream")
	resp(stream, "get", "204")
	resp(stream, "get", "404")
	for _, stream := range []string{stream, "/api/events/jobs/stream"} {
		var lastEventID []string
		for _, p := range get(paths, stream, "get", "parameters").([]any) {
			p, err := o.resolve(p)
			require.NoError(t, err)
			if n := get(p, "name"); n == "Last-Event-ID" || n == "lastEventId" {
				lastEventID = append(lastEventID, fmt.Sprint(get(p, "in"), ":", n))
			}
		}
		assert.ElementsMatch(t, []string{"header:Last-Event-ID", "query:lastEventId"}, lastEventID, "%s resumes from the header or the query", stream)
	}

	create := "/api/events/{eventDraftId}/ai-recommendations"
	accepted := resp(create, "post", "202")
	assert.NotNil(t, get(accepted, "headers", "Location"), "202 carries Location")

	for path, code := range map[string]string{"/readyz": "503", "/api/info": "200"} {
		assert.NotNil(t, get(resp(path, "get", code), "content", "application/json", "schema"), "%s %s JSON", path, code)
	}
	assert.NotNil(t, get(resp("/metrics", "get", "200"), "content", "text/plain"))
	assert.NotNil(t, get(resp("/", "get", "200"), "content", "text/html"))
}

// TestOpenAPIExamples validates every JSON example against its schema, so the
// examples (and the validator) stay honest.
func TestOpenAPIExamples(t *testing.T) {
	o := loadOpenAPI(t)
	n := 0
	for path, item := range get(o.doc, "paths").(obj) {
		for method, op := range item.(obj) {
			for code, r := range get(op, "responses").(obj) {
				r, err := o.resolve(r)
				require.NoError(t, err)
				media := get(r, "content", "application/json")
				if media == nil {
					continue
				}
				at := fmt.Sprintf("%s %s %s", method, path, code)
				schema := get(media, "schema")
				if ex := get(media, "example"); ex != nil {
					assert.NoError(t, o.validate(schema, ex, at+" example"))
					n++
				}
				for name, ex := range asObj(get(media, "examples")) {
					ex, err := o.resolve(ex)
					require.NoError(t, err)
					assert.NoError(t, o.validate(schema, get(ex, "value"), at+" "+name))
					n++
				}
			}
		}
	}
	assert.Greater(t, n, 10, "examples validated")
}

func asObj(v any) obj {
	m, _ := v.(obj)
	return m
}

// TestOpenAPIValidate shows the validator rejects what the contract forbids.
func TestOpenAPIValidate(t *testing.T) {
	o := loadOpenAPI(t)
	status := obj{"$ref": "#/components/schemas/JobStatus"}
	tests := []struct {
		body  string
		valid bool
	}{
		{`{"jobId":"a","status":"PENDING","message":"m"}`, true},
		{`{"jobId":"a","status":"PROCESSING","message":"m","timedOut":true}`, true},
		{`{"jobId":"a","status":"FAILED","error":"e","message":"m"}`, true},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","trendAnalysis":{},"recommendations":[]}`, true},
		{`{"jobId":"a","status":"PENDING"}`, false},
		{`{"jobId":"a","status":"PENDING","message":"m","extra":1}`, false},
		{`{"jobId":"a","status":"DONE","message":"m"}`, false},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","trendAnalysis":{},"recommendations":[{"title":"t"}]}`, false},
		{`{"jobId":"a","status":"COMPLETED","eventDraftId":"d","recommendations":[]}`, false},
		{`{"jobId":"a","status":"PENDING","message":"m","timedOut":false}`, false},
	}
	for _, tt := range tests {
		var v any
		require.NoError(t, yaml.Unmarshal([]byte(tt.body), &v))
		err := o.validate(status, v, "body")
		assert.Equal(t, tt.valid, err == nil, "validate(%s) = %v; want valid %v", tt.body, err, tt.valid)
	}
	assert.Error(t, o.validate(obj{"$ref": "#/components/schemas/Error"}, obj{"code": "XYZ_999", "message": "m"}, "error"))
}
