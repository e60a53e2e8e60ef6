package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/auth"
	"jobwait/store"
	"jobwait/stream"
)

// TestErrorFor: every sentinel error of store, stream and server, bare and
// wrapped as the lower layers wrap them, becomes its one answer.
func TestErrorFor(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		code       string
		retryAfter int
	}{
		{store.ErrNotFound, 404, "JOB_001", 0},
		{store.ErrCorrupt, 502, "JOB_003", 0},
		{store.ErrNoResult, 502, "JOB_003", 0},
		{store.ErrUnavailable, 503, "SVC_002", 2},
		{store.ErrRefused, 503, "SVC_002", 2},
		{store.ErrDemoBusy, 503, "SVC_001", 5},
		{stream.ErrClosed, 503, "SVC_002", 2},
		{stream.ErrReadPanic, 500, "INT_001", 0},
		{context.DeadlineExceeded, 503, "SVC_002", 2},
		{ErrJobNotFound, 404, "JOB_001", 0},
		{ErrBadJobID, 400, "JOB_002", 0},
		{ErrNoResult, 502, "JOB_003", 0},
		{ErrUnavailable, 503, "SVC_002", 2},
		{ErrRefused, 503, "SVC_002", 2},
		{ErrRouteUnknown, 404, "REQ_003", 0},
		{ErrMethod, 405, "REQ_002", 0},
		{ErrInternal, 500, "INT_001", 0},
		{ErrDemoBusy, 503, "SVC_001", 5},
		{clientGone, 400, "REQ_004", 0},
		{badParam("wait"), 400, "REQ_001", 0},
		{busy(msgTooManyWaiters, 3), 503, "SVC_001", 3},
		{busy(msgTooManyFromClient, 4), 503, "SVC_001", 4},
		{busy(msgTooManyConns, 1), 503, "SVC_001", 1},
		{fiber.ErrNotFound, 404, "REQ_003", 0},
		{fiber.ErrMethodNotAllowed, 405, "REQ_002", 0},
		{fiber.ErrRequestTimeout, 408, "REQ_004", 0},
		{fiber.ErrRequestEntityTooLarge, 413, "REQ_004", 0},
		{fiber.ErrRequestHeaderFieldsTooLarge, 431, "REQ_004", 0},
		{fiber.ErrBadRequest, 400, "REQ_004", 0},
		{fiber.ErrBadGateway, 400, "REQ_004", 0},
		{fiber.ErrInternalServerError, 500, "INT_001", 0},
		{errors.New("boom"), 500, "INT_001", 0},
		{&auth.Error{Reason: auth.ReasonExpired}, 401, "AUTH_001", 0},
		{&auth.Error{Reason: auth.ReasonMissing}, 401, "AUTH_001", 0},
		{&auth.Error{Reason: auth.ReasonJobs}, 403, "AUTH_002", 0},
		{ErrTokenRefused, 401, "AUTH_001", 0},
		{ErrTokenForbidden, 403, "AUTH_002", 0},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("job j: %w", tt.err)} {
			e := errorFor(err)
			if challenge := tt.code == "AUTH_001"; challenge != (e.Challenge == "Bearer") {
				t.Errorf("errorFor(%q) challenges with %q", err, e.Challenge)
			}
			if e.Status != tt.status || e.Code != tt.code || e.RetryAfter != tt.retryAfter || e.Message == "" {
				t.Errorf("errorFor(%q) = %d %s %q Retry-After %d; want %d %s Retry-After %d",
					err, e.Status, e.Code, e.Message, e.RetryAfter, tt.status, tt.code, tt.retryAfter)
			}
		}
	}
}

// TestConnRefusal: the response the connection cap writes to a connection
// it refuses is the SVC_001 answer, whole, that closes the connection.
func TestConnRefusal(t *testing.T) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(connRefusal(2))), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.True(t, resp.Close, "Connection: close")
	assert.JSONEq(t, string(busy(msgTooManyConns, 2).answer().Body), string(body))
}

// TestRenderUnreadable: a job that cannot be read is answered as errorFor
// maps its error, on every path that writes the hub's answers.
func TestRenderUnreadable(t *testing.T) {
	for _, err := range []error{store.ErrNotFound, store.ErrCorrupt, store.ErrNoResult} {
		a := render("j", &store.Snapshot{Err: fmt.Errorf("job j: %w", err)})
		want := errorFor(err).answer()
		assert.Equal(t, want.Code, a.Code, "render(%v)", err)
		assert.JSONEq(t, string(want.Body), string(a.Body), "render(%v)", err)
		assert.Equal(t, errors.Is(err, store.ErrNoResult), a.NoResult, "render(%v).NoResult", err)
		assert.True(t, a.Final(), "render(%v) is final", err)
	}
}
