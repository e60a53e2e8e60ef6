package server

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		code string // the error's code; "" for none
	}{
		{"a", []string{"a"}, ""},
		{"a,b,c", []string{"a", "b", "c"}, ""},
		{"A_1,b-2", []string{"A_1", "b-2"}, ""},
		{"", nil, "REQ_001"},
		{"a,b,c,d,e", nil, "REQ_001"}, // past the cap of 4, however bad the ids
		{"a,,b", nil, "JOB_002"},
		{"a,", nil, "JOB_002"},
		{"a,b:c", nil, "JOB_002"},
		{"a,*", nil, "JOB_002"},
		{"a," + strings.Repeat("x", 65), nil, "JOB_002"},
		{"a,b,a", nil, "REQ_001"},
	}
	for _, tt := range tests {
		got, err := parseIDs(tt.in, 4)
		if tt.code != "" {
			e, ok := err.(*Error)
			if assert.True(t, ok, "parseIDs(%q) = %v; want %s", tt.in, err, tt.code) {
				assert.Equal(t, tt.code, e.Code, "parseIDs(%q) = %v", tt.in, err)
			}
			continue
		}
		assert.NoError(t, err, "parseIDs(%q)", tt.in)
		assert.Equal(t, tt.want, got, "parseIDs(%q)", tt.in)
	}
}

func TestBadJobIDNamesIt(t *testing.T) {
	_, err := parseIDs("ok,b:c", 50)
	assert.Contains(t, err.Error(), `"b:c"`)
	_, err = parseIDs("ok,"+strings.Repeat("y", 500), 50)
	assert.Less(t, len(err.Error()), 300, "a long bad id is cut")
	_, err = parseIDs("ok,\xff\"", 50)
	assert.Contains(t, err.Error(), "\"\uFFFD\\\"\"", "invalid UTF-8 is replaced, quotes escaped")
}

func TestManyEventIDRoundTrip(t *testing.T) {
	deadline := time.UnixMilli(1700000000000)
	tests := []struct {
		ended []bool
		final bool
		want  string
	}{
		{[]bool{false}, false, "1700000000000-3-0"},
		{[]bool{true}, true, "1700000000000-3-1-end"},
		{[]bool{false, true, false, false, true}, false, "1700000000000-3-21"},
		{[]bool{true, true, true, true, false, false, false, true}, false, "1700000000000-3-f8"},
	}
	for _, tt := range tests {
		got := string(appendManyEventID(nil, deadline, 3, tt.ended, tt.final))
		assert.Equal(t, tt.want, got, "appendManyEventID(%v)", tt.ended)
		r, ok := parseManyEventID(got, len(tt.ended))
		assert.True(t, ok, "parseManyEventID(%q)", got)
		assert.Equal(t, manyResume{deadline: deadline, seq: 3, ended: tt.ended, final: tt.final}, r, "parseManyEventID(%q)", got)
	}
	// Fifty jobs, the default cap: a bounded id.
	all := make([]bool, 50)
	for i := range all {
		all[i] = true
	}
	id := string(appendManyEventID(nil, time.UnixMilli(99999999999999), 1<<40, all, true))
	assert.LessOrEqual(t, len(id), maxManyIDBase+13, "id %q", id)
	r, ok := parseManyEventID(id, 50)
	assert.True(t, ok)
	assert.True(t, r.done())
}

func TestParseManyEventID(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		ok   bool
		done bool
	}{
		{"1700000000000-1-0", 3, true, false},
		{"1700000000000-1-7", 3, true, true},                // every job ended
		{"1700000000000-1-1-end", 3, true, true},            // the stream's last event
		{"1700000000000-1", 3, true, false},                 // a one-job stream's id: nothing ended
		{"1700000000000-1-8", 3, false, false},              // a bit past the list
		{"1700000000000-1-00", 3, false, false},             // a mask too long for the list
		{"1700000000000-1-0g", 5, false, false},             // not hex
		{"1700000000000-x-0", 3, false, false},              // bad sequence
		{"-1-0", 3, false, false},                           // no deadline
		{"", 3, false, false},                               // none
		{strings.Repeat("1", 60) + "-1-0", 3, false, false}, // too long
	}
	for _, tt := range tests {
		r, ok := parseManyEventID(tt.in, tt.n)
		assert.Equal(t, tt.ok, ok, "parseManyEventID(%q, %d) ok", tt.in, tt.n)
		if ok {
			assert.Equal(t, tt.done, r.done(), "parseManyEventID(%q, %d).done()", tt.in, tt.n)
			assert.Len(t, r.ended, tt.n)
		}
	}
}
