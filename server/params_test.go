package server

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseWait(t *testing.T) {
	const budget = 30 * time.Second
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		// Absent or zero: a short poll.
		{"", 0, true},
		{"0", 0, true},
		{"18446744073709551616", budget, true},
		{"3000000h", budget, true},
		{"1.5", 0, false},
		{"00", 0, true},
		{"0s", 0, true},
		// Whole seconds.
		{"1", time.Second, true},
		{"29", 29 * time.Second, true},
		{"30", 30 * time.Second, true},
		// Durations.
		{"15s", 15 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"+5s", 5 * time.Second, true},
		// More than the budget is the budget.
		{"31", budget, true},
		{"32", budget, true},
		{"3600", budget, true},
		{"18446744073709551615", budget, true}, // the largest uint64
		{"1m", budget, true},
		{"1h", budget, true},
		{"2562047h", budget, true}, // near the largest Duration
		// Past the largest Duration, in any number of parts: the budget too.
		{"2562047h47m16.854775807s", budget, true}, // the largest Duration
		{"2562047h47m16.854775808s", budget, true}, // one past it
		{"2562047h47m17s", budget, true},
		{"99999999999999999999h", budget, true},
		{"9999999999h9999999999m", budget, true},
		{"1h1h1h", budget, true},
		{"+9999999999999h", budget, true},
		{".5s", 500 * time.Millisecond, true},
		// Anything else is REQ_001.
		{"-1", 0, false},
		{"-1s", 0, false},
		{"-0.5s", 0, false},
		{"1.5", 0, false}, // fractional seconds without a unit
		{"+5", 0, false},
		{" 5", 0, false},
		{"5 ", 0, false},
		{"5x", 0, false},
		{"1e3", 0, false},
		{"abc", 0, false},
		{"true", 0, false},
		{"0x10", 0, false},
		{"30s30", 0, false},
		{"-2562047h47m16.854775809s", 0, false},
		{"1h-1s", 0, false},
		{"9999999999999h ", 0, false},
		{"9999999999999x", 0, false},
		{"9999999999999h5", 0, false},
		{"++5s", 0, false},
		{"000000000000000000000000000000001", 0, false}, // 33 characters: too long
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in, budget)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseWait(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if err != nil {
			if e, isErr := err.(*Error); !isErr || e.Code != "REQ_001" || e.Status != 400 {
				t.Errorf("parseWait(%q) error = %#v; want REQ_001 400", tt.in, err)
			}
		}
	}
}

// TestParseWaitBudget: the clamp follows the configured budget.
func TestParseWaitBudget(t *testing.T) {
	tests := []struct {
		in     string
		budget time.Duration
		want   time.Duration
	}{
		{"2", 2 * time.Second, 2 * time.Second},
		{"3", 2 * time.Second, 2 * time.Second},
		{"30", 2 * time.Second, 2 * time.Second},
		{"1500ms", 2 * time.Second, 1500 * time.Millisecond},
		{"2", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"1", 1500 * time.Millisecond, time.Second},
		{"60", time.Minute, time.Minute},
		{"61", time.Minute, time.Minute},
	}
	for _, tt := range tests {
		if got, err := parseWait(tt.in, tt.budget); err != nil || got != tt.want {
			t.Errorf("parseWait(%q, %v) = %v, %v; want %v", tt.in, tt.budget, got, err, tt.want)
		}
	}
}

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
