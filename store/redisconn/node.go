package redisconn

import (
	"context"

	"github.com/redis/go-redis/v9"

	"jobwait/stream"
)

// nodeClient is one node's client as the hub uses it (stream.NodeClient).
type nodeClient struct{ redis.UniversalClient }

// Subscriber returns a subscription connection with nothing subscribed:
// go-redis connects it on its first command.
func (c nodeClient) Subscriber(ctx context.Context) stream.Subscriber {
	return c.UniversalClient.Subscribe(ctx)
}

// Node is the hub's node named name, reached through c: for tests that
// hand the hub nodes of their own.
func Node(name string, c redis.UniversalClient) stream.Node {
	return stream.Node{Name: name, Client: nodeClient{c}}
}
