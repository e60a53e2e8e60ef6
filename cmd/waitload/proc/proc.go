package proc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"jobwait/cmd/waitload/waiter"
)

const (
	childEnv      = "WAITLOAD_HOLDER" // marks a holder process
	progressEvery = 200 * time.Millisecond
)

type childMsg struct {
	Counts   waiter.Counts    `json:"counts"`
	Outcomes []waiter.Outcome `json:"outcomes,omitempty"`
	Final    bool             `json:"final,omitempty"`
	Err      string           `json:"err,omitempty"`
}

// IsChild reports whether this process was started as a holder.
func IsChild() bool { return os.Getenv(childEnv) == "1" }

// Serve is a holder process: it holds the waiters of the spec on stdin
// and reports on stdout. It returns the exit code.
func Serve(stdin io.Reader, stdout io.Writer) int {
	enc := json.NewEncoder(stdout)
	fail := func(err error) int {
		_ = enc.Encode(childMsg{Final: true, Err: err.Error()})
		return 1
	}
	var spec waiter.Spec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		return fail(fmt.Errorf("read spec: %w", err))
	}
	if err := waiter.CheckNoFile(spec.Count); err != nil {
		return fail(err)
	}
	h, err := waiter.NewHolder(spec)
	if err != nil {
		return fail(err)
	}
	h.Start(context.Background())
	done := make(chan []waiter.Outcome)
	go func() {
		out, _ := h.Wait()
		done <- out
	}()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case out := <-done:
			if err := enc.Encode(childMsg{Counts: h.Counts(), Outcomes: out, Final: true}); err != nil {
				return 1
			}
			return 0
		case <-tick.C:
			if err := enc.Encode(childMsg{Counts: h.Counts()}); err != nil {
				return 1 // the parent is gone
			}
		}
	}
}

// Child is a holder process.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu   sync.Mutex
	last waiter.Counts
	out  []waiter.Outcome
	err  error
}

// Start starts a holder process for spec; ctx kills it.
func Start(ctx context.Context, spec waiter.Spec) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start holder process: %w", err)
	}
	g := &Child{cmd: cmd, done: make(chan struct{})}
	go g.read(stdout)
	return g, nil
}

func (g *Child) read(stdout io.Reader) {
	defer close(g.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	var final bool
	for sc.Scan() {
		var m childMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			g.setErr(fmt.Errorf("holder process: bad message: %w", err))
			continue
		}
		g.mu.Lock()
		g.last = m.Counts
		if m.Final {
			final, g.out = true, m.Outcomes
			if m.Err != "" && g.err == nil {
				g.err = fmt.Errorf("holder process: %s", m.Err)
			}
		}
		g.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		g.setErr(fmt.Errorf("holder process: %w", err))
	}
	if err := g.cmd.Wait(); err != nil {
		g.setErr(fmt.Errorf("holder process: %w", err))
	}
	if !final {
		g.setErr(fmt.Errorf("holder process ended without its outcomes"))
	}
}

func (g *Child) setErr(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
}

// Counts is the holder's progress as it last reported it.
func (g *Child) Counts() waiter.Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// Wait returns every waiter's outcome once the process has ended, or why
// it ended without them.
func (g *Child) Wait() ([]waiter.Outcome, error) {
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out, g.err
}
