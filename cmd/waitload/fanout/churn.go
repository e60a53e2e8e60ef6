package fanout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"jobwait/cmd/waitload/probe"
)

// producerCommands is a churn wait's producer's: the job's SET, its completion's two.
const producerCommands = 3

// churn opens Rate new waits a second for Duration, each a stream of a new
// job (PENDING) on the next replica, completed 2 to 200 ms after its stream
// was asked for (often before its subscription is confirmed): what
// subscribing and unsubscribing cost Redis, and that every completion arrives.
func (r *runner) churn(ctx context.Context, res *Result) error {
	cfg := r.cfg
	n := int(cfg.Rate * cfg.Duration.Seconds())
	res.Waits = n
	before, err := probe.ReadCmdStats(ctx, r.rdb)
	if err != nil {
		return err
	}
	ss := make([]*stream, n)
	returned := make([]time.Time, n)
	var wg sync.WaitGroup
	pace(ctx, cfg.Rate, n, 1, func(i int) {
		wg.Go(func() {
			id := fmt.Sprintf("%sc-%d", r.prefix, i)
			j, err := r.st.Create(ctx, id, r.prefix+"draft-"+id)
			if err != nil {
				ss[i] = &stream{id: id, err: err}
				return
			}
			s := r.open(ctx, i, id)
			ss[i] = s
			time.Sleep(time.Until(s.opened.Add(time.Duration(2+rand.IntN(199)) * time.Millisecond)))
			returned[i] = r.complete(ctx, j)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
			}
		})
	})
	wg.Wait()
	// Every channel left: the UNSUBSCRIBEs, a linger after the last wait;
	// each connection keeps the channel it opened with, if keys.
	var chans float64
	err = poll(ctx, 50*time.Millisecond, 30*time.Second, func() (bool, error) {
		chans, err = r.sum(ctx, "jobwait_hub_channels")
		return chans <= float64(len(cfg.Targets)), err
	})
	if errors.Is(err, errStill) {
		return fmt.Errorf("channels still subscribed: %v", chans)
	} else if err != nil {
		return err
	}
	after, err := probe.ReadCmdStats(ctx, r.rdb)
	if err != nil {
		return err
	}
	cmds := after.Sub(before)
	res.Subscribes, res.Unsubscribes = cmds["subscribe"], cmds["unsubscribe"]
	res.CommandsPerWait = float64(cmds.Total()-int64(producerCommands*n)) / float64(n)
	res.ReadsPerWait = float64(cmds.Reads()) / float64(n)
	res.collect(ss, returned)
	return nil
}
