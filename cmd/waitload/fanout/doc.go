// Package fanout measures what jobwait's keyspace subscriptions cost Redis
// and the replicas as replicas multiply, and what a subscription's churn
// and loss cost: `waitload fanout`, whose runs cmd/waitload/fanout.sh
// makes for BENCHMARKS.md. It plays the producer (through package store)
// and the clients (one server-sent event stream per watched job, spread
// over the replicas and over source addresses 127.0.0.2…), against
// replicas and a Redis on this machine, which it reads to the byte and the
// nanosecond: the kernel's count of the bytes Redis wrote on every
// subscription connection (ss), INFO, the replicas' threads' schedstat and
// /metrics. The runs (steady, churn, disrupt) are described on their
// functions and in cmd/waitload/README.md. A run holds its streams in this
// process: at most the file limit.
package fanout
