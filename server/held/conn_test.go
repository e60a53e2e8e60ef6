package held

import (
	"testing"
	"time"
)

// TestWriteDeadline: the one rule of a held response's deadline.
func TestWriteDeadline(t *testing.T) {
	end := time.Unix(1_800_000_000, 0)
	tests := []struct {
		size, rate int64
		want       time.Duration // after end
	}{
		{0, 64 << 10, 5 * time.Second},
		{64 << 10, 64 << 10, 6 * time.Second},
		{8 << 20, 1 << 20, 13 * time.Second},
		{31_500_000, 2_000_000, 5*time.Second + 15750*time.Millisecond}, // a 31.5 MB answer read at 2 MB/s
		{1 << 30, 1 << 30, 6 * time.Second},
	}
	for _, tt := range tests {
		if got := writeDeadline(end, tt.size, tt.rate).Sub(end); got != tt.want {
			t.Errorf("writeDeadline(end, %d, %d) = end + %v; want end + %v", tt.size, tt.rate, got, tt.want)
		}
	}
}
