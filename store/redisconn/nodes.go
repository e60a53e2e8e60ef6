package redisconn

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// goNodes is what the hub learns from go-redis's own cluster node clients,
// so that it names and reaches every node exactly as go-redis does: the
// address go-redis routes to for each address a node announces (go-redis
// rewrites a loopback host to the host the cluster was reached on, a TLS
// port 0 to the port that answered), and the options go-redis gives a node
// client (ClusterOptions' whole per-node copy), the template of the hub's
// own node clients (cluster.client).
type goNodes struct {
	mu     sync.Mutex
	routed map[string]string // announced address -> go-redis's
	opts   *redis.Options    // one go-redis node client's options
	learnt bool              // go-redis's node clients learnt; guarded by cluster.mu
}

// learn learns the node clients go-redis has, until it has once: those it
// creates from now on are learnt as they come (OnNewNode).
func (g *goNodes) learn(ctx context.Context, cc *redis.ClusterClient) {
	if g.learnt {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	g.learnt = cc.ForEachShard(lctx, func(_ context.Context, rc *redis.Client) error {
		g.add(rc)
		return nil
	}) == nil
}

func (g *goNodes) add(rc *redis.Client) {
	o := rc.Options()
	g.mu.Lock()
	defer g.mu.Unlock()
	if o.NodeAddress != "" {
		g.routed[o.NodeAddress] = o.Addr
	}
	if g.opts == nil {
		g.opts = o
	}
}

// route returns the address go-redis routes to for an announced one; a node
// go-redis has not seen yet keeps the address it announced.
func (g *goNodes) route(announced string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.routed[announced]; ok {
		return a
	}
	return announced
}

// options returns a copy of go-redis's node client options, less what a
// client makes its own when it starts.
func (g *goNodes) options(cluster *redis.ClusterOptions) (*redis.Options, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.opts == nil {
		return nil, errors.New("go-redis knows no cluster node yet")
	}
	o := *g.opts
	o.PushNotificationProcessor = cluster.PushNotificationProcessor // NewClient sets its own
	if m := o.MaintNotificationsConfig; m != nil {
		c := *m // each client its own, as go-redis does
		o.MaintNotificationsConfig = &c
	}
	return &o, nil
}
