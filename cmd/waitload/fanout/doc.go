// Package fanout measures what jobwait's keyspace subscriptions cost Redis
// and the replicas as replicas multiply, and what a subscription's churn
// and loss cost: `waitload fanout`, whose runs cmd/waitload/fanout.sh
// makes for BENCHMARKS.md. It plays the producer (through package store,
// as waitload does) and the clients (one server-sent event stream per
// watched job, spread over the replicas and over source addresses
// 127.0.0.2…), against replicas and a Redis on this machine, which it
// reads to the byte and the nanosecond: the bytes Redis wrote on every
// subscription connection (the kernel's count, ss), its output and CPU
// (INFO), its commands (INFO commandstats), the replicas' CPU (every
// thread's schedstat) and /metrics.
//
// Three runs:
//
//   - steady: jobs written at a fixed rate, a share of them completions of
//     watched jobs: per write, what Redis sends the replicas and the CPU
//     Redis and the replicas spend (their idle CPU, measured before,
//     taken off), and the watched jobs' delivery latency;
//   - churn: new waits at a fixed rate, each on a new job completed 2 to
//     200 ms after its stream was asked for: every completion delivered,
//     SUBSCRIBE and UNSUBSCRIBE commands a second, Redis commands a wait;
//   - disrupt: waits held on many jobs while a command given (a Redis
//     restart, a Sentinel failover) cuts the subscriptions: how long until
//     the replicas are ready again, every channel is subscribed and every
//     watched job re-read, and whether every completion, half of them
//     written right after the command, reaches its waiter.
//
// A run holds its streams in this process: at most the file limit.
package fanout
