package held

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script records what a wait asks of it; its funcs, if set, act.
type script struct {
	mu     sync.Mutex
	calls  []string
	change func(job int)
	fire   func(e Event)
}

func (s *script) Change(job int) {
	s.record(string(rune('a' + job)))
	if s.change != nil {
		s.change(job)
	}
}

func (s *script) Fire(e Event) {
	s.record([...]string{"beat", "deadline", "shutdown"}[e])
	if s.fire != nil {
		s.fire(e)
	}
}

func (s *script) record(c string) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func (s *script) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// job is a Source whose changes the test pushes.
type job struct {
	mu sync.Mutex
	f  func() func()
}

func (j *job) OnChange(f func() (after func())) {
	j.mu.Lock()
	j.f = f
	j.mu.Unlock()
}

// change delivers a change as the hub's fan-out does: f, then what it
// returns.
func (j *job) change() {
	j.mu.Lock()
	f := j.f
	j.mu.Unlock()
	if after := f(); after != nil {
		after()
	}
}

func jobs(n int) ([]Source, []*job) {
	src, js := make([]Source, n), make([]*job, n)
	for i := range js {
		js[i] = &job{}
		src[i] = js[i]
	}
	return src, js
}

// testConn is a held connection on nc, ending at end, as the takeover
// makes one; released receives the status its wait is counted with.
func testConn(nc net.Conn, end time.Time) (*Conn, <-chan int) {
	released := make(chan int, 1)
	t := &Takeover{idle: map[net.Conn]struct{}{}, handing: map[net.Conn]struct{}{}}
	t.live.Store(1)
	h := &Conn{t: t, conn: nc, chunked: true, keepAlive: true, end: end, rate: 64 << 10, code: CodeGone,
		done: func(code int) { released <- code }}
	h.pushable()
	return h, released
}

// pipe is a connection whose client reads and discards everything.
func pipe(t *testing.T) net.Conn {
	server, client := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	t.Cleanup(func() { server.Close(); client.Close() })
	return server
}

// TestWaitOfManyJobs: a wait of many jobs is moved as one of one job is:
// every job is taken once when the wait starts, each change of a job calls
// for its own write, the clock beats every beat and ends the wait at its
// end, and the wait is released once, with the status its end recorded.
func TestWaitOfManyJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h, released := testConn(pipe(t), start.Add(25*time.Second))
		s := &script{fire: func(e Event) {
			if e == Deadline {
				h.Reply(200, 0, []byte(`{}`), true)
			}
		}}
		src, js := jobs(3)
		Watch(h, s, src, 10*time.Second, context.Background())
		synctest.Wait()
		assert.Equal(t, []string{"a", "b", "c"}, s.got(), "every job taken when the wait starts")

		h.mu.Lock() // both changes pending before the writer may take them
		js[2].change()
		js[0].change()
		h.mu.Unlock()
		synctest.Wait()
		assert.Equal(t, []string{"a", "b", "c", "a", "c"}, s.got()[:5], "each job changed written once, in the list's order")

		time.Sleep(25 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"beat", "beat", "deadline"}, s.got()[5:], "beats at 10 s and 20 s, the end at 25 s")
		select {
		case code := <-released:
			assert.Equal(t, 200, code)
		default:
			t.Fatal("the wait was not released at its end")
		}
		js[1].change() // after the end: nothing is written, nothing released again
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Len(t, s.got(), 8)
		assert.Empty(t, released)
	})
}

// TestWaitShutdown: shutdown fires the script once, with the connection no
// longer kept alive, and the wait is released.
func TestWaitShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, released := testConn(pipe(t), time.Now().Add(time.Minute))
		var keptAlive bool
		s := &script{fire: func(e Event) {
			keptAlive = h.keepAlive
			h.Reply(200, 0, []byte(`{}`), false)
		}}
		quit, stop := context.WithCancel(context.Background())
		src, _ := jobs(1)
		Watch(h, s, src, 10*time.Second, quit)
		synctest.Wait()
		stop()
		synctest.Wait()
		assert.Equal(t, []string{"a", "shutdown"}, s.got())
		assert.False(t, keptAlive, "the connection will not be served again")
		assert.Equal(t, 200, <-released)
		assert.Equal(t, endClose, h.ended, "answered, not kept alive: closed")
	})
}

// TestPushNeverWaits: a change that comes while a heartbeat holds the
// connection is not lost and not waited for: its push returns at once, and
// the heartbeat's goroutine writes it before it lets go.
func TestPushNeverWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	nc, err := ln.Accept()
	require.NoError(t, err)
	defer nc.Close()
	h, _ := testConn(nc, time.Now().Add(time.Minute))
	require.NotNil(t, h.raw, "a TCP connection takes pushes")

	inBeat, letGo := make(chan struct{}), make(chan struct{})
	changed := make(chan int, 4)
	s := &script{
		change: func(job int) { changed <- job },
		fire: func(e Event) {
			if e == Beat {
				close(inBeat)
				<-letGo
			}
		},
	}
	src, js := jobs(2)
	Watch(h, s, src, 50*time.Millisecond, context.Background())
	for range 2 { // the start takes both jobs
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatal("the start did not take the jobs")
		}
	}
	select {
	case <-inBeat:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	pushed := make(chan struct{})
	go func() { js[1].change(); close(pushed) }()
	select {
	case <-pushed:
	case <-time.After(5 * time.Second):
		t.Fatal("a push waited for the heartbeat")
	}
	select {
	case j := <-changed:
		t.Fatalf("job %d written while the heartbeat held the connection", j)
	default:
	}
	close(letGo)
	select {
	case j := <-changed:
		assert.Equal(t, 1, j)
	case <-time.After(5 * time.Second):
		t.Fatal("the change pushed during the heartbeat was lost")
	}
	h.mu.Lock()
	h.finish(endGone)
	h.mu.Unlock()
}

// TestJobSet: one bit per job, in as many words as the jobs need; a wait
// of up to 64 jobs keeps its word inline.
func TestJobSet(t *testing.T) {
	for _, n := range []int{1, 3, 64, 65, 130} {
		var s jobSet
		s.init(n)
		assert.Len(t, s.words, (n+63)/64, "jobs %d", n)
		if n <= 64 {
			assert.Same(t, &s.first[0], &s.words[0], "jobs %d: inline", n)
		}
		assert.False(t, s.any(), "jobs %d: empty", n)
		s.add(n - 1)
		assert.True(t, s.any(), "jobs %d: job %d added", n, n-1)
		assert.EqualValues(t, uint64(1)<<((n-1)%64), s.words[(n-1)/64].Load(), "jobs %d: one bit", n)
	}
}
