package main

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSSEParser(t *testing.T) {
	tests := []struct {
		name     string
		stream   string
		want     []sseEvent
		retry    time.Duration
		comments int
		lastID   string
	}{
		{
			name: "jobwait stream",
			stream: "retry: 2000\n\n" +
				"id: 1-1\nevent: status\ndata: {\"status\":\"PROCESSING\"}\n\n" +
				": keepalive\n\n" +
				"id: 1-2-end\nevent: completed\ndata: {\"status\":\"COMPLETED\"}\n\n",
			want: []sseEvent{
				{ID: "1-1", Type: "status", Data: `{"status":"PROCESSING"}`},
				{ID: "1-2-end", Type: "completed", Data: `{"status":"COMPLETED"}`},
			},
			retry: 2 * time.Second, comments: 1, lastID: "1-2-end",
		},
		{
			name:   "CRLF line ends",
			stream: "event: timeout\r\ndata: x\r\n\r\n",
			want:   []sseEvent{{Type: "timeout", Data: "x"}},
		},
		{
			name:   "no event name is a message",
			stream: "data: hello\n\n",
			want:   []sseEvent{{Type: "message", Data: "hello"}},
		},
		{
			name:   "data lines join with newlines",
			stream: "data: a\ndata:b\ndata\n\n",
			want:   []sseEvent{{Type: "message", Data: "a\nb\n"}},
		},
		{
			name:   "only one leading space is cut",
			stream: "data:  two\n\n",
			want:   []sseEvent{{Type: "message", Data: " two"}},
		},
		{
			name:   "no data, no event; the id stays",
			stream: "id: 7\nevent: status\n\ndata: d\n\n",
			want:   []sseEvent{{ID: "7", Type: "message", Data: "d"}},
			lastID: "7",
		},
		{
			name:   "bad retry is ignored",
			stream: "retry: soon\nretry: -5\nretry: 1500\nretry: 2x\n\n",
			retry:  1500 * time.Millisecond,
		},
		{
			name:   "unknown fields are ignored",
			stream: "foo: bar\nevent: completed\ndata: {}\n\n",
			want:   []sseEvent{{Type: "completed", Data: "{}"}},
		},
		{
			name:   "event cut off by the end of the stream",
			stream: "event: completed\ndata: {}\n",
		},
		{
			name:     "comments only",
			stream:   ": keepalive\n\n: keepalive\n\n",
			comments: 2,
		},
		{
			name:   "a line longer than the read buffer",
			stream: "event: completed\ndata: " + strings.Repeat("가", 2000) + "\n\n",
			want:   []sseEvent{{Type: "completed", Data: strings.Repeat("가", 2000)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p sseParser
			br := bufio.NewReaderSize(strings.NewReader(tt.stream), 16)
			var got []sseEvent
			for {
				ev, err := p.next(br)
				if err != nil {
					assert.Contains(t, []error{io.EOF, io.ErrUnexpectedEOF}, err)
					break
				}
				got = append(got, ev)
			}
			assert.Equal(t, tt.want, got, "events of %q", tt.stream)
			assert.Equal(t, tt.retry, p.retry, "retry of %q", tt.stream)
			assert.Equal(t, tt.comments, p.comments, "comments of %q", tt.stream)
			assert.Equal(t, tt.lastID, p.lastID, "last id of %q", tt.stream)
		})
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		code    int
		body    string
		done    bool
		kind    Kind
		wantErr string
	}{
		{200, `{"status":"PROCESSING","message":"AI가 분석 중입니다"}`, false, "", ""},
		{200, `{"status":"PENDING","timedOut":true}`, false, "", ""},
		{200, `{"status":"COMPLETED","recommendations":[{"title":"x"}]}`, true, Delivered, ""},
		{200, `{"status":"COMPLETED","recommendations":[]}`, true, Errored, "without recommendations"},
		{200, `{"status":"FAILED","error":"AI 분석 실패"}`, true, Errored, "FAILED"},
		{200, `{"status":"WEIRD"}`, true, Errored, "status"},
		{404, `{"code":"JOB_001","message":"Job을 찾을 수 없습니다"}`, true, Errored, "http 404 JOB_001"},
		{503, `{"code":"SVC_001","message":"busy"}`, true, Errored, "http 503 SVC_001"},
		{502, `<html>`, true, Errored, "unreadable body"},
	}
	for _, tt := range tests {
		_, done, kind, err := judge(tt.code, []byte(tt.body))
		assert.Equal(t, tt.done, done, "judge(%d, %s) done", tt.code, tt.body)
		assert.Equal(t, tt.kind, kind, "judge(%d, %s) kind", tt.code, tt.body)
		if tt.wantErr == "" {
			require.NoError(t, err, "judge(%d, %s)", tt.code, tt.body)
		} else {
			assert.ErrorContains(t, err, tt.wantErr, "judge(%d, %s)", tt.code, tt.body)
		}
	}
}
