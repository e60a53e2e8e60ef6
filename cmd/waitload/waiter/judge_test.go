package waiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		{200, `{"status":"FAILED","error":"AI 분석 실패"}`, true, Failed, ""},
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
