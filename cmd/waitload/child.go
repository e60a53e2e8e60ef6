package main

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
)

// One process can hold only as many connections as it may open files (on
// the reference machine 20,000, a hard limit). With -procs n, waitload runs
// itself n times as holder processes, each with its own limit and its share
// of the waiters, while the first process stays the single producer and
// reporter: there is one completion side, one clock for latencies (holders
// report wall-clock receipt times; all processes share the machine's
// clock), and one report.
//
// The protocol is JSON: the holder reads its holdSpec on stdin, writes a
// childMsg with its counts every progressEvery on stdout, and a last one
// with every outcome before it exits. Its stderr is the parent's.

// childEnv marks a holder process.
const childEnv = "WAITLOAD_HOLDER"

const progressEvery = 200 * time.Millisecond

type childMsg struct {
	Counts   counts    `json:"counts"`
	Outcomes []outcome `json:"outcomes,omitempty"`
	Final    bool      `json:"final,omitempty"`
	Err      string    `json:"err,omitempty"`
}

// isChild reports whether this process was started as a holder.
func isChild() bool { return os.Getenv(childEnv) == "1" }

// childMain is a holder process: it holds the waiters of the spec on stdin
// and reports on stdout. It returns the exit code.
func childMain(stdin io.Reader, stdout io.Writer) int {
	enc := json.NewEncoder(stdout)
	fail := func(err error) int {
		_ = enc.Encode(childMsg{Final: true, Err: err.Error()})
		return 1
	}
	var spec holdSpec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		return fail(fmt.Errorf("read spec: %w", err))
	}
	if err := checkNoFile(spec.Count); err != nil {
		return fail(err)
	}
	h, err := newHolder(spec)
	if err != nil {
		return fail(err)
	}
	h.start(context.Background())
	done := make(chan []outcome)
	go func() { done <- h.wait() }()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case out := <-done:
			if err := enc.Encode(childMsg{Counts: h.counts(), Outcomes: out, Final: true}); err != nil {
				return 1
			}
			return 0
		case <-tick.C:
			if err := enc.Encode(childMsg{Counts: h.counts()}); err != nil {
				return 1 // the parent is gone
			}
		}
	}
}

// group is a share of a mode's waiters, held here or in a holder process.
type group interface {
	counts() counts
	wait() ([]outcome, error)
}

// localGroup holds its waiters in this process.
type localGroup struct{ *holder }

func (g localGroup) wait() ([]outcome, error) { return g.holder.wait(), nil }

// childGroup is a holder process; its reader goroutine is finished when
// wait returns.
type childGroup struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu   sync.Mutex
	last counts
	out  []outcome
	err  error
}

// startChild starts a holder process for spec; ctx kills it.
func startChild(ctx context.Context, spec holdSpec) (*childGroup, error) {
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
	g := &childGroup{cmd: cmd, done: make(chan struct{})}
	go g.read(stdout)
	return g, nil
}

func (g *childGroup) read(stdout io.Reader) {
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

func (g *childGroup) setErr(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
}

func (g *childGroup) counts() counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

func (g *childGroup) wait() ([]outcome, error) {
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out, g.err
}
