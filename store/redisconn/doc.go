// Package redisconn is jobwait's Redis connection: it turns REDIS_URL and
// the TLS settings into a go-redis client (a single node, a Redis Cluster,
// Redis Sentinel, TLS and mutual TLS, ACL users; with no URL, the embedded
// in-process store), knows the shape of what it opened, and knows its
// rights: every command jobwait sends, how to try it harmlessly, and what
// jobwait does without it. It is the only package that knows go-redis's
// client types; stream and store declare the small interfaces they need
// of it (stream.Redis, store.Redis), and cmd hands them a Conn.
//
// # Shape
//
// Which nodes publish the keyspace events of jobwait's keys is the shape
// the hub needs (Conn.Publishers): a single node and Sentinel's primary
// are a cluster of one master, reached through the client (on Sentinel the
// failover client dials whichever node the sentinels name, and the fence
// closes what is left on a former primary); on a Redis Cluster, each
// master, with its replicas as standby, asked of the cluster itself
// (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) and named as go-redis
// routes to it. A cluster's node clients are the package's own, made with
// the options go-redis gives its node clients, so that go-redis dropping a
// node never closes a subscription under the hub; a node that left is
// closed once the hub has dropped it. The shape changes with a failover,
// a master added or removed, or slots moved: the hub then subscribes anew
// and re-reads every watched job, and go-redis is told at once.
//
// # What it promises
//
// Open never waits for Redis: a Redis that does not answer is waited for
// by whoever uses the Conn, while a setting that cannot work (a TLS
// certificate that does not verify, a database on a Cluster, turning
// verification off) is an error at once, with a message that names the
// setting. Every client it makes sends, on each connection, nothing but
// HELLO (with AUTH) and SELECT, so that a correctly configured jobwait
// leaves no error in Redis's INFO errorstats and no refusal in its ACL
// LOG; the commands it sends after that are exactly Conn.Permissions,
// which docs/production.md's ACL lines grant.
//
// # Goroutines
//
// Open starts none. Conn.Run follows Redis until its context ends (on
// Sentinel, the fence that moves jobwait's connections to the primary
// after a switch) and Check.Run checks Redis's answers and rights once a
// second; cmd starts both, cancels them and waits for them, then calls
// Close.
package redisconn
