package store

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Defaults of the demo stand-in.
const (
	DefaultDemoDelay    = 5 * time.Second
	DefaultDemoFailRate = 0.1
	// MaxDemoJobs bounds the jobs the stand-in works on at once.
	MaxDemoJobs = 10000
)

// ErrDemoBusy: the stand-in already works on MaxDemoJobs jobs.
var ErrDemoBusy = errors.New("demo: too many jobs in progress")

// Demo is an in-process stand-in for the AI service: it creates jobs and
// moves each PENDING → PROCESSING → COMPLETED (or FAILED, at FailRate)
// over Delay, writing Redis exactly as the real producer does.
type Demo struct {
	store    *Store
	delay    time.Duration
	failRate float64
	log      *slog.Logger

	mu    sync.Mutex
	steps []demoStep
}

type demoStep struct {
	at  time.Time
	job Job
}

// NewDemo returns a stand-in over s; zero delay or a negative fail rate take
// the defaults. It does nothing until Run.
func NewDemo(s *Store, delay time.Duration, failRate float64, log *slog.Logger) *Demo {
	if delay <= 0 {
		delay = DefaultDemoDelay
	}
	if failRate < 0 {
		failRate = DefaultDemoFailRate
	}
	return &Demo{store: s, delay: delay, failRate: failRate, log: log}
}

// Start creates a PENDING job for an event draft; Run will finish it.
func (d *Demo) Start(ctx context.Context, eventDraftID string) (Job, error) {
	d.mu.Lock()
	busy := len(d.steps) >= MaxDemoJobs
	d.mu.Unlock()
	if busy {
		return Job{}, ErrDemoBusy
	}
	j, err := d.store.Create(ctx, newJobID(), eventDraftID)
	if err != nil {
		return j, err
	}
	d.schedule(time.Now().Add(d.delay/5), j)
	return j, nil
}

func (d *Demo) schedule(at time.Time, j Job) {
	d.mu.Lock()
	d.steps = append(d.steps, demoStep{at: at, job: j})
	d.mu.Unlock()
}

// Run moves the jobs along until ctx ends.
func (d *Demo) Run(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			for _, s := range d.due(now) {
				d.advance(ctx, s.job)
			}
		}
	}
}

// due removes and returns the steps whose time has come.
func (d *Demo) due(now time.Time) []demoStep {
	var due []demoStep
	d.mu.Lock()
	defer d.mu.Unlock()
	d.steps = slices.DeleteFunc(d.steps, func(s demoStep) bool {
		if now.Before(s.at) {
			return false
		}
		due = append(due, s)
		return true
	})
	return due
}

// advance moves a job one step: PENDING to PROCESSING, PROCESSING to its end.
func (d *Demo) advance(ctx context.Context, j Job) {
	var err error
	switch j.Status {
	case Pending:
		j, err = d.store.Start(ctx, j)
		if err == nil {
			d.schedule(time.Now().Add(d.delay*4/5), j)
		}
	case Processing:
		if rand.Float64() < d.failRate {
			_, err = d.store.Fail(ctx, j, "추천 모델 응답 시간 초과 (demo)")
		} else {
			_, err = d.store.Complete(ctx, j, SampleResult(j.EventDraftID))
		}
	}
	if err != nil {
		d.log.Warn("demo job step failed", "job", j.JobID, "err", err)
	}
}

// newJobID returns a random 32-character hex id.
func newJobID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
