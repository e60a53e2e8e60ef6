package fanout

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Config is one run.
type Config struct {
	Run      string        // steady, churn or disrupt
	Label    string        // names the run in its row (the subscription mode, say)
	Targets  []string      // the replicas' base URLs
	RedisURL string        // the Redis they read
	Pids     []int         // the replicas' process ids (steady: their CPU)
	Rate     float64       // steady: job writes a second; churn: new waits a second
	Duration time.Duration // steady, churn: how long it writes
	Watched  float64       // steady: the share of writes that complete a watched job
	Hold     int           // disrupt: waits held
	Disrupt  string        // disrupt: the command (sh -c) that cuts the subscriptions
	Sources  int           // source addresses 127.0.0.2… the streams are spread over
	JSON     string        // append the result to this file, a JSON object a line
}

// Parse reads `waitload fanout`'s command line.
func Parse(args []string, stderr io.Writer) (Config, error) {
	c := Config{}
	fs := flag.NewFlagSet("waitload fanout", flag.ContinueOnError)
	var targets, pids string
	fs.StringVar(&c.Run, "run", "steady", "`steady|churn|disrupt`")
	fs.StringVar(&c.Label, "label", "", "names the run in its row, e.g. the replicas' JOBWAIT_SUBSCRIBE")
	fs.StringVar(&targets, "targets", "http://127.0.0.1:8080", "the replicas' base `URLs`, comma-separated")
	fs.StringVar(&c.RedisURL, "redis", "redis://127.0.0.1:6379/0", "the Redis `URL` the replicas read (?master_name= for Sentinel)")
	fs.StringVar(&pids, "pids", "", "the replicas' process ids, `PID,PID…` (steady)")
	fs.Float64Var(&c.Rate, "rate", 2000, "steady: job writes a second; churn: new waits a second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "steady, churn: how long it writes")
	fs.Float64Var(&c.Watched, "watched", 0.01, "steady: the share of writes that complete a watched job (0 to 1)")
	fs.IntVar(&c.Hold, "hold", 18000, "disrupt: waits held")
	fs.StringVar(&c.Disrupt, "disrupt", "", "disrupt: the `command` (sh -c) that cuts the subscriptions")
	fs.IntVar(&c.Sources, "sources", 8, "source addresses 127.0.0.2… the streams are spread over")
	fs.StringVar(&c.JSON, "json", "", "append the result to `FILE`, a JSON object a line")
	// The caller says what is wrong, once; the flags are listed on -h.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
		}
		return c, err
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Targets = append(c.Targets, strings.TrimSuffix(t, "/"))
		}
	}
	for _, p := range strings.Split(pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-pids: %q is no process id", p)
		}
		c.Pids = append(c.Pids, n)
	}
	return c, c.validate()
}

func (c Config) validate() error {
	var errs []error
	switch c.Run {
	case "steady":
		if len(c.Pids) != len(c.Targets) {
			errs = append(errs, fmt.Errorf("-pids: %d for %d targets", len(c.Pids), len(c.Targets)))
		}
		if c.Watched <= 0 || c.Watched > 1 {
			errs = append(errs, errors.New("-watched: want a share above 0, at most 1"))
		}
	case "churn":
	case "disrupt":
		if c.Disrupt == "" || c.Hold <= 0 {
			errs = append(errs, errors.New("-run disrupt needs -disrupt and -hold"))
		}
	default:
		errs = append(errs, fmt.Errorf("-run %q: want steady, churn or disrupt", c.Run))
	}
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("-targets: none"))
	}
	if c.Rate <= 0 || c.Duration <= 0 {
		errs = append(errs, errors.New("-rate and -duration: want more than 0"))
	}
	if c.Sources < 1 || c.Sources > 250 {
		errs = append(errs, errors.New("-sources: want 1 to 250"))
	}
	return errors.Join(errs...)
}
