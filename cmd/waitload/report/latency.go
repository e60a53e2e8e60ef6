package report

import (
	"math"
	"slices"
	"time"
)

// Latency summarises delivery latencies, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	Min   float64 `json:"minMs"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

// percentile is the nearest-rank percentile of sorted values: the smallest
// value with at least p% of all values at or below it. It is always one of
// the values, never an interpolation; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// Summarize sorts ds in place and summarises it.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Count: len(ds),
		Min:   ms(ds[0]),
		P50:   ms(percentile(ds, 50)),
		P90:   ms(percentile(ds, 90)),
		P99:   ms(percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
		Mean:  ms(sum / time.Duration(len(ds))),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Curve samples sorted latencies at n+1 evenly spaced percentiles (0 to
// 100), for the report's chart.
func Curve(sorted []time.Duration, n int) []float64 {
	if len(sorted) == 0 {
		return nil
	}
	pts := make([]float64, n+1)
	for i := range pts {
		pts[i] = ms(percentile(sorted, 100*float64(i)/float64(n)))
	}
	return pts
}
