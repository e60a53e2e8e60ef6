package redisconn

import "testing"

// TestKeySlot holds keySlot to what CLUSTER KEYSLOT of Redis 7 answers,
// hash tags included.
func TestKeySlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"", 0},
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"job:abc", 7812},
		{"job:abc:error", 5200},
		{"{user1000}.following", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},    // an empty tag is no tag: the whole key
		{"foo{{bar}}zap", 4015}, // the tag is "{bar"
		{"{}", 15257},
	}
	for _, tt := range tests {
		if got := keySlot(tt.key); got != tt.want {
			t.Errorf("keySlot(%q) = %d; want %d", tt.key, got, tt.want)
		}
	}
	if got := crc16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x; want 0x31c3", got)
	}
}

// TestOwner: a key's master is the one whose ranges hold its slot.
func TestOwner(t *testing.T) {
	top := newTopology([]string{"a", "b"}, nil,
		[]slotRange{{8192, 16383, "b"}, {0, 8191, "a"}})
	for key, want := range map[string]string{"bar": "a", "foo": "b", "job:abc": "a", "job:abc:error": "a", "{}": "b"} {
		if got := top.owner(key); got != want {
			t.Errorf("owner(%q) = %q; want %q", key, got, want)
		}
	}
	gap := newTopology([]string{"a"}, nil, []slotRange{{0, 99, "a"}})
	if got := gap.owner("foo"); got != "" {
		t.Errorf("owner of a slot no master holds = %q; want none", got)
	}
}
