package stream_test

import (
	"testing"

	"jobwait/stream"
)

func TestMergeFlags(t *testing.T) {
	tests := []struct {
		have, need, want string
	}{
		{"", stream.NotifyFlags, "Kg$hxe"},
		{"Kg$hxe", stream.NotifyFlags, "Kg$hxe"},
		{"ehx$gK", stream.NotifyFlags, "ehx$gK"}, // any order
		{"AKE", stream.NotifyFlags, "AKE"},       // A covers g$lshzxetd
		{"A", stream.NotifyFlags, "AK"},
		{"KA", stream.NotifyFlags, "KA"},
		{"Ex", stream.NotifyFlags, "ExKg$he"}, // keyevent only: keyspace added, nothing removed
		{"Kl", stream.NotifyFlags, "Klg$hxe"},
		{"K$", stream.NotifyFlags, "K$ghxe"},
		{"KEm", stream.NotifyFlags, "KEmg$hxe"}, // m (key miss) is not in A and is kept
		{"An", "Kn", "AnK"},
		{"A", "Km", "AKm"}, // A does not cover m
		{"Kg$hxe", "", "Kg$hxe"},
		{"", "KK", "K"},
	}
	for _, tt := range tests {
		if got := stream.MergeFlags(tt.have, tt.need); got != tt.want {
			t.Errorf("MergeFlags(%q, %q) = %q; want %q", tt.have, tt.need, got, tt.want)
		}
	}
}
