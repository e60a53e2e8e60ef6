package server_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
)

// TestPageContentTypes: the page's assets and the client package are
// served with the content types browsers and tools take them by: modules
// as text/javascript (a browser refuses a module of another type), the
// .d.ts as text/plain (not the video/mp2t of an MPEG .ts), text in UTF-8;
// none sends a Referer on.
func TestPageContentTypes(t *testing.T) {
	s := shortPollApp(t, redistest.Shared(t).Client(t))
	for path, want := range map[string]string{
		"/":                    "text/html; charset=utf-8",
		"/?jobId=a":            "text/html; charset=utf-8",
		"/app.js":              "text/javascript; charset=utf-8",
		"/history.js":          "text/javascript; charset=utf-8",
		"/style.css":           "text/css; charset=utf-8",
		"/client/jobwait.js":   "text/javascript; charset=utf-8",
		"/client/jobwait.d.ts": "text/plain; charset=utf-8",
		"/client/package.json": "application/json",
	} {
		resp, body := do(t, s, "GET", path)
		require.Equal(t, 200, resp.StatusCode, path)
		assert.Equal(t, want, resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"), "%s: a token in the page's query goes nowhere", path)
		assert.NotEmpty(t, body, path)
	}
	_, body := do(t, s, "GET", "/client/jobwait.d.ts")
	assert.True(t, strings.Contains(body, "export function wait("), "the declarations are served whole")

	// A missing asset is the JSON error, whatever its name ends with.
	for _, path := range []string{"/client/nothing.js", "/client/nothing.d.ts", "/jobwait.js"} {
		resp, body := do(t, s, "GET", path)
		assert.Equal(t, 404, resp.StatusCode, path)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), path)
		assert.Contains(t, body, `"REQ_003"`, path)
	}
}
