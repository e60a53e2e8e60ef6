package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The hub's in-process fan-out, without Redis: Read is a func-field fake
// that returns the current version of every job at once. Each operation is
// one notification through to every waiter's owner having seen the new
// state, as a held long poll or stream would.

// benchHub is a hub with a fake Read and running readers.
type benchHub struct {
	h       *Hub[int64]
	version atomic.Int64
	reads   atomic.Int64 // Read calls (batches)
	ctx     context.Context
}

func newBenchHub(b *testing.B) *benchHub {
	bh := &benchHub{}
	bh.h = New(Config[int64]{
		JobID: func(key string) (string, bool) { return key, true },
		Read: func(_ context.Context, ids []string, _ []int64) ([]int64, error) {
			bh.reads.Add(1)
			v := bh.version.Load()
			out := make([]int64, len(ids))
			for i := range out {
				out[i] = v
			}
			return out, nil
		},
		Same:   func(a, b int64) bool { return a == b },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	bh.ctx = ctx
	var wg sync.WaitGroup
	bh.h.startReaders(ctx, &wg)
	bh.h.Subscribed() // as when subscribed
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return bh
}

// hold registers a waiter on job id and runs its owner: on every wake-up
// it reads the newest state and, for each new one, counts one in seen.
func (bh *benchHub) hold(b *testing.B, id string, seen func()) {
	ctx, cancel := context.WithTimeout(bh.ctx, 10*time.Second)
	w, last, err := bh.h.Watch(ctx, id)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer w.Close()
		for {
			select {
			case <-w.C():
				if v, _ := w.Latest(); v != last {
					last = v
					seen()
				}
			case <-bh.ctx.Done():
				return
			}
		}
	}()
}

// run notifies keys b.N times, each time waiting until n states were seen.
func (bh *benchHub) run(b *testing.B, keys []string, n int, done <-chan struct{}) {
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	reads := bh.reads.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		bh.version.Store(int64(i + 1))
		now := time.Now()
		for _, k := range keys {
			bh.h.event(k, "set", now)
		}
		select {
		case <-done:
		case <-timeout.C:
			b.Fatalf("iteration %d: not every waiter woken", i)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	// Every allocation of the process over the operations, the owners'
	// included, per delivery: it must not grow with the number of waiters.
	b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(b.N)/float64(n), "allocs/waiter")
	b.ReportMetric(float64(bh.reads.Load()-reads)/float64(b.N), "batches/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/waiter")
}

// counter signals done each time n more states have been seen.
func counter(n int) (seen func(), done <-chan struct{}) {
	var count atomic.Int64
	ch := make(chan struct{}, 1)
	return func() {
		if count.Add(1)%int64(n) == 0 {
			ch <- struct{}{}
		}
	}, ch
}

// BenchmarkFanout: one job, n waiters, one change per operation.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) {
			bh := newBenchHub(b)
			seen, done := counter(n)
			for range n {
				bh.hold(b, "job", seen)
			}
			bh.run(b, []string{"job"}, n, done)
		})
	}
}

// BenchmarkFanoutJobs: n jobs with one waiter each, all changed at once
// (a burst of completions): reads are batched.
func BenchmarkFanoutJobs(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			bh := newBenchHub(b)
			seen, done := counter(n)
			keys := make([]string, n)
			for i := range keys {
				keys[i] = "job" + strconv.Itoa(i)
				bh.hold(b, keys[i], seen)
			}
			bh.run(b, keys, n, done)
		})
	}
}

// BenchmarkWatch: registering and closing a waiter on a job whose state the
// hub holds (the path of every long poll and stream after the first).
func BenchmarkWatch(b *testing.B) {
	bh := newBenchHub(b)
	bh.hold(b, "job", func() {})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w, _, err := bh.h.Watch(ctx, "job")
			if err != nil {
				b.Error(err)
				return
			}
			w.Close()
		}
	})
}
