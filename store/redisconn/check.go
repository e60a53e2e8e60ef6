package redisconn

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/stream"
)

// /readyz turns red within checkEvery + checkTimeout of a fault and green
// within checkEvery of its repair, for one round trip per checkEvery
// however many ask it.
const (
	checkEvery   = time.Second
	checkTimeout = 2 * time.Second
)

// Hub is what the check needs of the hub (*stream.Hub): whether it manages
// notify-keyspace-events, and how its subscription fares.
type Hub interface {
	Mode() stream.Mode
	Stats() stream.Stats
}

// Health is what the last check learnt of Redis: /readyz's word on it.
type Health struct {
	// State is "up"; "down" when Redis does not answer, too slowly, or not
	// as Redis (a TLS failure, LOADING); "refused" when it answers but
	// refuses a read that requests need (an ACL).
	State string
	// Reason says why, when State is not "up".
	Reason string
	// Missing lists the permissions Redis refuses jobwait now, each with
	// what it costs; nil when none is.
	Missing []string
}

// Check tries the commands jobwait sends Redis (Permissions): the Checked
// ones every check, in one pipeline; the others once Redis has answered;
// the subscription's are told by the hub's. It logs each permission refused
// or granted again and each new reason for Redis to fail; /readyz reads
// what it found last (Health), never waiting on Redis.
type Check struct {
	client redis.UniversalClient
	perms  []Permission
	hub    Hub
	log    *slog.Logger
	found  atomic.Pointer[Health]

	// Owned by Run's goroutine.
	refused map[string]error // by permission name: the refusal
	reason  string           // why Redis failed the last check ("" if it did not)
	// configJudged: CONFIG has had an answer. Until then it is checked
	// whatever the hub's mode, so that a refusal that made the hub fall
	// back to polling before the first check is still named.
	configJudged bool
}

// NewCheck returns the check of conn's Permissions(mode, sub), with hub's
// subscription; it checks nothing until Run.
func NewCheck(conn *Conn, mode stream.Mode, sub stream.Subscribe, hub Hub, log *slog.Logger) *Check {
	k := &Check{client: conn.client, perms: conn.Permissions(mode, sub), hub: hub, log: log, refused: map[string]error{}}
	k.found.Store(&Health{State: "down", Reason: "redis not checked yet"})
	return k
}

// Health is what the last check found.
func (k *Check) Health() Health { return *k.found.Load() }

// Run checks at once, then every checkEvery, until ctx ends.
func (k *Check) Run(ctx context.Context) {
	every(ctx, checkEvery, func() bool { k.check(ctx); return false })
}

func (k *Check) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	managing := k.hub.Mode() != stream.Poll || !k.configJudged // CONFIG is still in use
	p := k.client.Pipeline()
	cmds := make([]redis.Cmder, len(k.perms))
	for i, pm := range k.perms {
		if pm.cmd != nil && (!pm.config || managing) {
			cmds[i] = p.Do(cctx, pm.cmd...)
		}
	}
	_, down := p.Exec(cctx)
	if ctx.Err() != nil {
		return // shutting down: nothing learnt
	}
	// A command with an answer of its own: the pipeline reached Redis.
	ran := slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c != nil && c.Err() != nil })
	if ran || down == nil {
		down = nil
		for i, c := range cmds {
			if c == nil {
				continue
			}
			err := k.judge(k.perms[i], c.Err())
			if err != nil && down == nil {
				down = err
			}
			k.configJudged = k.configJudged || k.perms[i].config && err == nil
		}
	}
	for i, pm := range k.perms {
		if down != nil || pm.try == nil {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := pm.try(tctx, k.client)
		cancel()
		if k.judge(pm, err) == nil {
			k.perms[i].try = nil // answered: tried at start only
		}
	}
	if st := k.hub.Stats(); st.Mode == stream.Keyspace {
		for _, pm := range k.perms {
			switch why := errors.New(st.Down); {
			case pm.subscribe == "":
			case st.Live:
				k.judge(pm, nil)
			case store.Refused(why) && pm.refuses(why):
				k.judge(pm, why)
			}
		}
	}
	k.record(down)
}

// judge records pm as refused or allowed by err, the answer to a try of
// it; it returns err when it is no answer (Redis unreachable, too slow,
// LOADING), which says nothing of pm.
func (k *Check) judge(pm Permission, err error) error {
	switch {
	case store.Refused(err):
		if _, was := k.refused[pm.Name]; !was {
			k.log.Warn("redis permission missing", "permission", pm.Name, "grant", pm.Grant, "cost", pm.Cost, "err", err)
		}
		k.refused[pm.Name] = err
	case err == nil, errors.Is(err, redis.Nil), strings.HasPrefix(err.Error(), "WRONGTYPE"):
		if _, was := k.refused[pm.Name]; was {
			k.log.Info("redis permission granted again", "permission", pm.Name)
			delete(k.refused, pm.Name)
		}
	default:
		return err
	}
	return nil
}

// record keeps what a check found, and logs a new reason for Redis to fail
// it, or its end.
func (k *Check) record(down error) {
	h := Health{State: "up"}
	for _, pm := range k.perms {
		err, refused := k.refused[pm.Name]
		if !refused {
			continue
		}
		h.Missing = append(h.Missing, pm.Name+": "+pm.Cost+"; grant "+pm.Grant)
		if pm.Needed && h.State == "up" {
			h.State, h.Reason = "refused", "redis refuses jobwait's "+pm.Name+" (grant "+pm.Grant+"): "+err.Error()
		}
	}
	if down != nil {
		h.State, h.Reason = "down", describe(down)
	}
	switch {
	case down != nil && h.Reason != k.reason:
		k.log.Warn("redis fails jobwait's checks", "reason", h.Reason)
		k.reason = h.Reason
	case down == nil && k.reason != "":
		k.log.Info("redis answers jobwait's checks again")
		k.reason = ""
	}
	k.found.Store(&h)
}

// describe says why Redis failed a check, pointing the operator the right
// way, in words that stay the same while the cause does.
func describe(err error) string {
	var ne net.Error
	switch {
	case tlsTrouble(err) != nil:
		return tlsTrouble(err).Error()
	case isAuthRefused(err):
		return "redis refuses jobwait's credentials: check the user and password in REDIS_URL: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "redis did not answer within " + checkTimeout.String()
	}
	return "redis does not answer: " + err.Error()
}
