package held

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"jobwait/server/eventid"
)

// The held path's write of one event, on real loopback sockets whose
// clients read and discard: what a delivery costs after the hub's fan-out,
// and that its allocations do not grow with the number of held streams.

// heldPair returns a held stream's connection whose client discards all it
// reads.
func heldPair(b *testing.B, ln net.Listener) *Conn {
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, c) }()
	b.Cleanup(func() { c.Close(); s.Close() })
	return &Conn{conn: s, chunked: true, keepAlive: true, end: time.Now().Add(time.Hour), rate: 64 << 10, code: CodeGone}
}

// BenchmarkHeldEvent: one change written as an event to each of n held
// streams (an SSE fan-out's writes); allocs/waiter per delivery.
func BenchmarkHeldEvent(b *testing.B) {
	body := []byte(`{"jobId":"wl-1-sse-1","status":"COMPLETED","result":{"recommendations":["a","b","c"]}}`)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			hs := make([]*Conn, n)
			for i := range hs {
				hs[i] = heldPair(b, ln)
			}
			deadline := time.Now().Add(time.Minute)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mallocs := ms.Mallocs
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for _, h := range hs {
					var idb [eventid.MaxLen]byte
					id := eventid.Append(idb[:0], deadline, uint64(i+1), false)
					if !h.Event(nil, nil, id, "status", body, false) {
						b.Fatal("write failed")
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(b.N)/float64(n), "allocs/waiter")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/waiter")
		})
	}
}

// BenchmarkWaitClock: a held wait's timer, started and stopped (once per
// held wait), against the timer and ticker it replaces.
func BenchmarkWaitClock(b *testing.B) {
	end := time.Now().Add(30 * time.Second)
	b.Run("clock", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			c := startClock(end, 15*time.Second, func() {})
			c.stop()
		}
	})
	b.Run("timer+ticker", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			t := time.NewTimer(time.Until(end))
			k := time.NewTicker(15 * time.Second)
			t.Stop()
			k.Stop()
		}
	})
}

// pushScript writes a status event for every change, as a stream does.
type pushScript struct {
	h    *Conn
	body []byte
	seq  uint64
}

func (s *pushScript) Change(int) {
	s.seq++
	var idb [eventid.MaxLen]byte
	s.h.Event(nil, nil, eventid.Append(idb[:0], s.h.end, s.seq, false), "status", s.body, false)
}

func (s *pushScript) Fire(Event) {}

// BenchmarkPush: one change of a held one-job stream, from the hub's call
// of its OnChange to the event written on its loopback socket: the whole
// delivery, with no goroutine in between.
func BenchmarkPush(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	h := heldPair(b, ln)
	h.t = &Takeover{idle: map[net.Conn]struct{}{}, handing: map[net.Conn]struct{}{}}
	h.done = func(int) {}
	h.pushable()
	src, js := jobs(1)
	s := &pushScript{h: h, body: []byte(`{"jobId":"wl-1-sse-1","status":"PROCESSING","message":"AI가 분석 중입니다"}`)}
	Watch(h, s, src, time.Hour, context.Background())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		js[0].change()
	}
}
