package stream_test

import (
	"testing"

	"jobwait/stream"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want stream.Mode
		ok   bool
	}{
		{"", stream.Auto, true},
		{"auto", stream.Auto, true},
		{"keyspace", stream.Keyspace, true},
		{"poll", stream.Poll, true},
		{"Poll", "", false},
		{"KEYSPACE", "", false},
		{" poll", "", false},
		{"poll ", "", false},
		{"polling", "", false},
		{"none", "", false},
		{"pubsub", "", false},
	}
	for _, tt := range tests {
		got, err := stream.ParseMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
