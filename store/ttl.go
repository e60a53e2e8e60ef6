package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// TTLs reads how long each job's record has left to live, in one round
// trip (a PTTL each): 0 if it does not expire, below 0 if it is gone.
// Where Redis refuses PTTL (an ACL user without it) every job reads as
// not expiring, and Redis is not asked again.
func (s *Store) TTLs(ctx context.Context, ids []string) ([]time.Duration, error) {
	out := make([]time.Duration, len(ids))
	if refusedLately(&s.pttlRefused) {
		return out, nil
	}
	cmds := make([]*redis.DurationCmd, len(ids))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for i, id := range ids {
			cmds[i] = p.PTTL(ctx, JobKey(id))
		}
	})
	for i, c := range cmds {
		d, err := c.Result()
		switch {
		case Refused(err):
			s.pttlRefused.Store(time.Now().UnixNano())
			return make([]time.Duration, len(ids)), nil
		case err != nil:
			return nil, unavailable(err)
		case d == -2: // PTTL's answer for a missing key
			out[i] = -1
		case d >= 0: // -1: no expiry
			// A record within its last millisecond still expires.
			out[i] = max(d, time.Millisecond)
		}
	}
	return out, nil
}
