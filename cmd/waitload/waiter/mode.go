package waiter

import "time"

// Mode is one way of waiting for a job, as SPEC.md §3–5 and §8 name them.
type Mode string

// The ways a waiter can wait.
const (
	ModePoll     Mode = "poll"     // legacy clients: a short poll every 2 s for at most 30 s
	ModeLongPoll Mode = "longpoll" // GET .../status?wait=N, repeated while timed out
	ModeSSE      Mode = "sse"      // GET .../stream, an EventSource
	ModeSSEMany  Mode = "ssemany"  // GET .../jobs/stream?ids=…: Spec.JobsPerConn waits a stream; not in AllModes
)

// AllModes is the order in which -mode all runs them.
var AllModes = []Mode{ModePoll, ModeLongPoll, ModeSSE}

// The servers a waiter can wait on (Spec.Server).
const (
	ServerJobwait = "jobwait"
	ServerNchan   = "nchan" // nginx + Nchan as nchan.conf sets it up: sse and longpoll only
)

// Kind is how a waiter's wait ended.
type Kind string

// The four ends of a wait.
const (
	Delivered Kind = "delivered" // the COMPLETED answer with its recommendations
	Failed    Kind = "failed"    // the FAILED answer: the job's end, answered
	TimedOut  Kind = "timeout"   // the waiter's budget was spent first, the server holding the wait
	Errored   Kind = "error"     // anything else: connection trouble, an error answer, refused to the end
)

// Outcome is what one waiter saw. Asked (its first request sent) and At (its
// final answer read) are wall clock times, compared with the producer's.
type Outcome struct {
	Job      int       `json:"j"` // the index of the waiter's job in Spec.Jobs
	Kind     Kind      `json:"k"`
	Asked    time.Time `json:"s"`
	At       time.Time `json:"at"`
	Err      string    `json:"e,omitempty"`
	Requests int       `json:"r"`
	Rejected int       `json:"x,omitempty"` // 503 answers asked through
}

// Counts is a holder's progress, summed over processes by the reporter.
type Counts struct {
	Started   int `json:"started"` // connection attempts finished, either way
	Held      int `json:"held"`    // connected and not yet done
	Peak      int `json:"peak"`    // most held at once
	Done      int `json:"done"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	TimedOut  int `json:"timedOut"`
	Errors    int `json:"errors"`
}

// Add is the sum of two holders' progress.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		Started: c.Started + o.Started, Held: c.Held + o.Held, Peak: c.Peak + o.Peak,
		Done: c.Done + o.Done, Delivered: c.Delivered + o.Delivered, Failed: c.Failed + o.Failed,
		TimedOut: c.TimedOut + o.TimedOut, Errors: c.Errors + o.Errors,
	}
}
