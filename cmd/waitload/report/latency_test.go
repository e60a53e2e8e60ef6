package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 0, 7 * time.Millisecond},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 100, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2), 51, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 90, 90 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 99.5, 100 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred...), 0, 1 * time.Millisecond},
		{ms(-3, 1, 5), 10, -3 * time.Millisecond},
	}
	for _, tt := range tests {
		got := percentile(tt.sorted, tt.p)
		assert.Equal(t, tt.want, got, "percentile(%v, %v) = %v; want %v", tt.sorted, tt.p, got, tt.want)
	}
}

func TestSummarize(t *testing.T) {
	ds := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := Summarize(ds)
	want := Latency{Count: 4, Min: 1, P50: 2, P90: 4, P99: 4, Max: 4, Mean: 2.5}
	assert.Equal(t, want, got)
	assert.Equal(t, Latency{}, Summarize(nil))
}

func TestCurve(t *testing.T) {
	sorted := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	assert.Equal(t, []float64{1, 2, 4}, Curve(sorted, 2))
	assert.Nil(t, Curve(nil, 100))
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ raw, want float64 }{
		{0, 1}, {-1, 1}, {0.3, 0.5}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {450, 500}, {2000, 2000},
	} {
		assert.InDelta(t, tt.want, niceStep(tt.raw), 1e-9, "niceStep(%v)", tt.raw)
	}
}
