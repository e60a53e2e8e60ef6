package stream

import (
	"context"
	"time"
)

// poll re-reads every watched job each tick, in batched round trips, until
// ctx ends. With no job watched it pings Redis, so readiness stays true to
// whether Redis answers.
func (h *Hub[T]) poll(ctx context.Context) {
	t := time.NewTicker(h.cfg.PollTick)
	defer t.Stop()
	h.pollOnce(ctx)
	for {
		select {
		case <-ctx.Done():
			h.listened(news{what: stopped}) // no more polls: Watch must not trust the states held
			return
		case <-t.C:
			h.pollOnce(ctx)
		}
	}
}

func (h *Hub[T]) pollOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
	err := h.cfg.Redis.Ping(pctx).Err()
	cancel()
	if err != nil {
		h.listened(news{what: unanswered, err: err})
		return
	}
	h.listened(news{what: answered, on: true})
}
