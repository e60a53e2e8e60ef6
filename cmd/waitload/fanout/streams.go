package fanout

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"jobwait/server/sse"
)

// stream is one watched job's server-sent event stream.
type stream struct {
	id     string
	opened time.Time     // when it was asked for
	held   chan struct{} // closed on its first event, or its end
	done   chan struct{} // closed at its end
	got    time.Time     // when its completed event was read; zero: never
	err    error         // why it ended otherwise
}

// open asks the i-th replica (round robin) for job id's stream and reads it,
// in a goroutine of its own, until its completed event or another end.
func (r *runner) open(ctx context.Context, i int, id string) *stream {
	s := &stream{id: id, held: make(chan struct{}), done: make(chan struct{}), opened: time.Now()}
	hc := r.streams[r.next.Add(1)%uint64(len(r.streams))]
	go s.read(ctx, hc, r.cfg.Targets[i%len(r.cfg.Targets)])
	return s
}

func (s *stream) read(ctx context.Context, hc *http.Client, base string) {
	defer close(s.done)
	held := sync.OnceFunc(func() { close(s.held) })
	defer held()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events/jobs/"+s.id+"/stream", nil)
	if err != nil {
		s.err = err
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		s.err = err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.err = fmt.Errorf("job %s: %s", s.id, resp.Status)
		return
	}
	r := sse.NewReader(resp.Body)
	for {
		ev, err := r.Next()
		if err != nil {
			s.err = fmt.Errorf("job %s: %w", s.id, err)
			return
		}
		held()
		switch ev.Type {
		case "status":
		case "completed":
			s.got = time.Now()
			return
		default:
			s.err = fmt.Errorf("job %s: event %s: %.120s", s.id, ev.Type, ev.Data)
			return
		}
	}
}

// waitAll waits until every stream is held (its first event) or else done.
func waitAll(ctx context.Context, ss []*stream, within time.Duration, held bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, s := range ss {
		ch := s.done
		if held {
			ch = s.held
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pace calls do(i) for i from 0 to n-1, the i-th at start + i/rate, from
// workers goroutines, so that a slow call delays the others little; it
// returns once every call has returned or ctx ended.
func pace(ctx context.Context, rate float64, n, workers int, do func(i int)) {
	idx := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range idx {
				do(i)
			}
		})
	}
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		idx <- i
	}
	close(idx)
	wg.Wait()
}
