package proc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/waiter"
)

// TestServe speaks the holder's protocol in this process: a spec on stdin,
// messages on stdout, the last one final with every outcome.
func TestServe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jobId":"j","status":"COMPLETED","recommendations":[{"title":"x"}]}`))
	}))
	defer srv.Close()
	spec, err := json.Marshal(waiter.Spec{Mode: waiter.ModeLongPoll, Target: srv.URL, Jobs: []string{"j"}, First: 4, Count: 3,
		Budget: 5 * time.Second, PollInterval: time.Second, DialConcurrency: 2})
	require.NoError(t, err)
	var stdout bytes.Buffer
	require.Equal(t, 0, Serve(bytes.NewReader(spec), &stdout))
	var last childMsg
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		require.NoError(t, json.Unmarshal(sc.Bytes(), &last))
	}
	assert.True(t, last.Final)
	assert.Empty(t, last.Err)
	require.Len(t, last.Outcomes, 3)
	for _, o := range last.Outcomes {
		assert.Equal(t, waiter.Delivered, o.Kind)
	}
	c := last.Counts
	assert.Equal(t, [3]int{3, 3, 3}, [3]int{c.Started, c.Done, c.Delivered}, "started, done, delivered: %+v", c)

	stdout.Reset()
	assert.Equal(t, 1, Serve(strings.NewReader(`{"target":"ftp://x"}`), &stdout))
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &last))
	assert.True(t, last.Final)
	assert.Contains(t, last.Err, "-target")
}
