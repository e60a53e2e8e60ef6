package auth_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"jobwait/server/auth"
)

func TestExtract(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJqb2JzIjpbImEiXX0.c2ln"
	tests := []struct {
		authorization string
		query         []string
		want          string
		err           bool
	}{
		{"", nil, "", false},
		{"Bearer " + tok, nil, tok, false},
		{"bearer " + tok, nil, tok, false},
		{"BEARER   " + tok, nil, tok, false},
		{"Bearer " + tok, []string{"other"}, tok, false}, // the header wins
		{"", []string{tok}, tok, false},
		{"Bearer abc+/~_-.==", nil, "abc+/~_-.==", false},
		{"", []string{tok, tok}, "", true},
		{"", []string{""}, "", true},
		{"Bearer", nil, "", true},
		{"Bearer ", nil, "", true},
		{"Bearer ==", nil, "", true},
		{"Basic Zm9vOmJhcg==", []string{tok}, "", true},
		{"Token " + tok, nil, "", true},
		{tok, nil, "", true},
		{"Bearer " + tok + " extra", nil, "", true},
		{"Bearer " + tok + "\t", nil, "", true},
		{"Bearer a=b", nil, "", true},
		{"Bearer\t" + tok, nil, "", true},
	}
	for _, tt := range tests {
		got, err := auth.Extract(tt.authorization, tt.query)
		assert.Equal(t, tt.want, got, "Extract(%q, %q)", tt.authorization, tt.query)
		if !tt.err {
			assert.NoError(t, err, "Extract(%q, %q)", tt.authorization, tt.query)
			continue
		}
		assert.ErrorIs(t, err, auth.ErrUnauthorized, "Extract(%q, %q)", tt.authorization, tt.query)
		assert.Equal(t, auth.ReasonMalformed, refusal(t, err))
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/api/events/jobs/a/stream", "/api/events/jobs/a/stream"},
		{"/api/events/jobs/a/stream?access_token=eyJ.x.y", "/api/events/jobs/a/stream?access_token=REDACTED"},
		{"/s?ids=a,b&access_token=eyJ.x.y&lastEventId=3", "/s?ids=a,b&access_token=REDACTED&lastEventId=3"},
		{"/s?access_token=one&access_token=two", "/s?access_token=REDACTED&access_token=REDACTED"},
		{"/s?Access_Token=t", "/s?Access_Token=REDACTED"},
		{"/s?access%5Ftoken=t", "/s?access%5Ftoken=REDACTED"},
		{"/s?%61ccess_token=t", "/s?%61ccess_token=REDACTED"},
		{"/s?access_token=", "/s?access_token=REDACTED"},
		{"/s?a=1;access_token=t", "/s?a=1;access_token=REDACTED"},
		{"/s?access_tokens=t&xaccess_token=u", "/s?access_tokens=t&xaccess_token=u"},
		{"/s?access_token", "/s?access_token"},
		{"/s?a=access_token=t", "/s?a=access_token=t"},
		{"/s?wait=30#access_token=t", "/s?wait=30#access_token=REDACTED"},
		{"/?jobId=a#access_token=t", "/?jobId=a#access_token=REDACTED"},
		{"/page#access_token=t", "/page#access_token=REDACTED"},
		{"https://app.example/watch?jobId=a&access_token=t", "https://app.example/watch?jobId=a&access_token=REDACTED"},
		{"access_token=t&wait=5", "access_token=REDACTED&wait=5"},
		{"wait=5", "wait=5"},
		{"", ""},
		{"/s?%zz=1&access_token=t", "/s?%zz=1&access_token=REDACTED"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, auth.Redact(tt.in), "Redact(%q)", tt.in)
	}
}

// A URI with no token is returned without a copy: access logs pay nothing.
func TestRedactAllocs(t *testing.T) {
	uri := "/api/events/jobs/stream?ids=a,b,c&wait=30&lastEventId=17"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = auth.Redact(uri) }))
}
