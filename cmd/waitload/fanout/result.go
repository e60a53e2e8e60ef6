package fanout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"jobwait/cmd/waitload/report"
)

// Result is what a run measured. Figures a run does not measure are zero.
type Result struct {
	Run      string  `json:"run"`
	Label    string  `json:"label"`
	Replicas int     `json:"replicas"`
	Rate     float64 `json:"rate"`
	Watched  float64 `json:"watched,omitempty"`

	Writes    int            `json:"writes,omitempty"`      // job record writes (steady)
	Waits     int            `json:"waits"`                 // watched jobs, each its stream
	Delivered int            `json:"delivered"`             // completions read by their stream
	LostBy    int            `json:"lostByRedis,omitempty"` // completions Redis no longer holds with their results (disrupt): acknowledged, then dropped by a failover
	Errors    []string       `json:"errors,omitempty"`      // the first few streams' troubles
	Latency   report.Latency `json:"latency"`               // from the completion's write returning to its event read

	// steady, per job record write.
	PubSubBytes    float64 `json:"pubsubBytesPerWrite,omitempty"`   // Redis's bytes on the subscription connections
	OutputBytes    float64 `json:"outputBytesPerWrite,omitempty"`   // Redis's whole output but the writer's replies
	RedisCPU       float64 `json:"redisCpuUsPerWrite,omitempty"`    // µs, idle taken off
	ReplicasCPU    float64 `json:"replicasCpuUsPerWrite,omitempty"` // µs, all replicas, idle taken off
	SubscribedConn int     `json:"subscriptionConnections,omitempty"`

	// churn.
	Subscribes      int64   `json:"subscribeCommands,omitempty"`
	Unsubscribes    int64   `json:"unsubscribeCommands,omitempty"`
	CommandsPerWait float64 `json:"redisCommandsPerWait,omitempty"` // the producer's 3 SETs left out
	ReadsPerWait    float64 `json:"readsPerWait,omitempty"`         // GET, MGET, HGETALL

	// disrupt, from the command's start.
	Down       time.Duration `json:"downAfter,omitempty"`       // a replica's /readyz first not 200
	Ready      time.Duration `json:"readyAfter,omitempty"`      // every /readyz 200 again
	Subscribed time.Duration `json:"subscribedAfter,omitempty"` // Redis holds every channel again
	ReRead     time.Duration `json:"reReadAfter,omitempty"`     // every watched job read since ready
}

// row writes the result as a line of text.
func (r Result) row(w io.Writer) {
	l := r.Latency
	switch r.Run {
	case "steady":
		fmt.Fprintf(w, "%s\t%d replicas\t%.1f%% watched\t%d writes at %.0f/s\tpub/sub %.1f B/write\toutput %.1f B/write\tredis %.2f µs/write\treplicas %.2f µs/write\tdelivered %d/%d\tp50 %.2f ms\tp99 %.2f ms\n",
			r.Label, r.Replicas, 100*r.Watched, r.Writes, r.Rate, r.PubSubBytes, r.OutputBytes, r.RedisCPU, r.ReplicasCPU, r.Delivered, r.Waits, l.P50, l.P99)
	case "churn":
		fmt.Fprintf(w, "%s\t%d replicas\t%d waits at %.0f/s\tSUBSCRIBE %.0f/s\tUNSUBSCRIBE %.0f/s\t%.2f commands/wait\t%.2f reads/wait\tdelivered %d/%d\tp50 %.2f ms\tp99 %.2f ms\tmax %.2f ms\n",
			r.Label, r.Replicas, r.Waits, r.Rate, float64(r.Subscribes)/(float64(r.Waits)/r.Rate), float64(r.Unsubscribes)/(float64(r.Waits)/r.Rate),
			r.CommandsPerWait, r.ReadsPerWait, r.Delivered, r.Waits, l.P50, l.P99, l.Max)
	case "disrupt":
		fmt.Fprintf(w, "%s\t%d replicas\t%d waits\tnot ready after %v\tready after %v\tsubscribed after %v\tre-read after %v\tdelivered %d/%d (lost by Redis %d)\tp50 %.2f ms\tp99 %.2f ms\n",
			r.Label, r.Replicas, r.Waits, r.Down.Round(time.Millisecond), r.Ready.Round(time.Millisecond),
			r.Subscribed.Round(time.Millisecond), r.ReRead.Round(time.Millisecond), r.Delivered, r.Waits, r.LostBy, l.P50, l.P99)
	}
	for _, e := range r.Errors {
		fmt.Fprintln(w, "\t", e)
	}
}

// appendJSON appends the result to path, a JSON object a line.
func (r Result) appendJSON(path string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return errors.Join(json.NewEncoder(f).Encode(r), f.Close())
}

// collect records the streams' deliveries and troubles: latency from the
// time each one's completion returned (returned[i], zero: not written).
func (r *Result) collect(ss []*stream, returned []time.Time) {
	var lat []time.Duration
	for i, s := range ss {
		switch {
		case !s.got.IsZero() && !returned[i].IsZero():
			r.Delivered++
			lat = append(lat, s.got.Sub(returned[i]))
		case s.err != nil && len(r.Errors) < 5:
			r.Errors = append(r.Errors, s.err.Error())
		case s.err == nil && len(r.Errors) < 5:
			r.Errors = append(r.Errors, "job "+s.id+": no completion read")
		}
	}
	r.Latency = report.Summarize(lat)
}
