package fanout

import (
	"context"
	"net/http"
	"time"

	"jobwait/cmd/waitload/probe"
)

// jobwaits are the replicas, as their own endpoints tell of them.
type jobwaits struct {
	targets []string
	client  *http.Client
}

func newJobwaits(targets []string) *jobwaits {
	return &jobwaits{targets: targets, client: &http.Client{Timeout: 2 * time.Second}}
}

// sum is metric name summed over the replicas.
func (j *jobwaits) sum(ctx context.Context, name string) (float64, error) {
	total := 0.0
	for _, t := range j.targets {
		m, err := probe.Metrics(ctx, j.client, t)
		if err != nil {
			return 0, err
		}
		total += m[name]
	}
	return total, nil
}

// ready reports whether every replica's /readyz answers 200.
func (j *jobwaits) ready(ctx context.Context) bool {
	for _, t := range j.targets {
		if _, err := probe.Get(ctx, j.client, t+"/readyz"); err != nil {
			return false
		}
	}
	return true
}
