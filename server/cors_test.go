package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseOrigins(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{" , ", nil, true},
		{"*", []string{"*"}, true},
		{"https://events.example.com", []string{"https://events.example.com"}, true},
		{"HTTPS://Events.Example.com/, http://localhost:3000", []string{"https://events.example.com", "http://localhost:3000"}, true},
		{"events.example.com", nil, false},
		{"ftp://example.com", nil, false},
		{"https://example.com/path", nil, false},
		{"https://*.example.com", nil, false},
		{"https://user@example.com", nil, false},
		{"https://example.com?x=1", nil, false},
		{"https://", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseOrigins(tt.in)
		if !tt.ok {
			assert.Error(t, err, "ParseOrigins(%q)", tt.in)
			continue
		}
		if assert.NoError(t, err, "ParseOrigins(%q)", tt.in) {
			assert.Equal(t, tt.want, got, "ParseOrigins(%q)", tt.in)
		}
	}
}
