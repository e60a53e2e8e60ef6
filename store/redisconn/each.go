package redisconn

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EachMaster calls f with a client of each master behind c: c itself when
// it is one node's (a single Redis, a Sentinel's primary), each master's on
// a Cluster, one at a time. Tools that read or prepare every node (the load
// tester's INFO and its producer's pool) go through it, so that no package
// but this one tells go-redis's client types apart.
func EachMaster(ctx context.Context, c redis.UniversalClient, f func(context.Context, *redis.Client) error) error {
	switch rc := c.(type) {
	case *redis.ClusterClient:
		return rc.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, rc)
	}
	return fmt.Errorf("redisconn: a %T is neither one node's client nor a cluster's", c)
}

// Single returns c as one node's client; false on a Cluster.
func Single(c redis.UniversalClient) (*redis.Client, bool) {
	rc, ok := c.(*redis.Client)
	return rc, ok
}
