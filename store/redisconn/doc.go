// Package redisconn is jobwait's Redis connection: it turns REDIS_URL and
// the TLS settings into a go-redis client (a single node, a Redis Cluster,
// Sentinel, TLS and mutual TLS, ACL users; with no URL, an embedded
// in-process store), knows the shape of what it opened, and knows its
// rights: every command jobwait sends, how to try it harmlessly, and what
// jobwait does without it. It is the only package that knows go-redis's
// client types; stream and store declare the small interfaces they need
// of it, and cmd hands them a Conn.
//
// # Shape
//
// The hub needs the nodes that publish the keyspace events of jobwait's
// keys (Conn.Publishers): a single node or Sentinel's primary; on a
// Cluster each master, with its replicas as standby, asked of the cluster
// itself (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) and named as
// go-redis routes to it. Those node clients are this package's own, made
// with go-redis's node options, so that go-redis dropping a node never
// closes a subscription under the hub.
//
// # What it promises
//
// Open never waits for Redis: a Redis that does not answer is waited for
// by whoever uses the Conn, while a setting that cannot work (a TLS
// certificate that does not verify, a database on a Cluster, turning
// verification off) is an error at once that names the setting. Every
// client sends, on each connection, nothing but HELLO (with AUTH) and
// SELECT, so a correctly configured jobwait leaves no error in INFO
// errorstats and no refusal in the ACL LOG; after that it sends exactly
// Conn.Permissions.
//
// # Goroutines
//
// Open starts none. Conn.Run follows Redis until its context ends (on
// Sentinel, the fence) and Check.Run checks Redis's answers and rights
// once a second; cmd starts both, cancels them and waits for them, then
// calls Close.
package redisconn
