package proc

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
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

	out []waiter.Outcome // set by read before done is closed
	err error
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

// read takes the holder's messages until it exits; err is the first thing
// that went wrong.
func (g *Child) read(stdout io.Reader) {
	defer close(g.done)
	var err error
	final := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var m childMsg
		if bad := json.Unmarshal(sc.Bytes(), &m); bad != nil {
			err = cmp.Or(err, fmt.Errorf("bad message: %w", bad))
			continue
		}
		g.mu.Lock()
		g.last = m.Counts
		g.mu.Unlock()
		if m.Final {
			final, g.out = true, m.Outcomes
			if m.Err != "" {
				err = cmp.Or(err, errors.New(m.Err))
			}
		}
	}
	err = cmp.Or(err, sc.Err(), g.cmd.Wait())
	if err == nil && !final {
		err = errors.New("ended without its outcomes")
	}
	if err != nil {
		g.err = fmt.Errorf("holder process: %w", err)
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
	return g.out, g.err
}
