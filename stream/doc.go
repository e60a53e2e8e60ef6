// Package stream is jobwait's hub: it holds the waiters of every job, listens
// to Redis keyspace notifications through one subscription per publishing
// node (the one node, or each master of a cluster) or polls the watched jobs
// where notifications are unavailable, reads a job once per change and fans
// the new state out to every waiter of that job. A subscription names the
// channels of the watched jobs' keys only (SubscribeKeys), so that Redis
// sends a process the events of the jobs it waits for and no others, or
// every job key's with one pattern (SubscribePattern). What it needs of
// Redis it declares (Redis, Node, Subscriber); store/redisconn provides it.
//
// # Concurrency contract
//
// Goroutines. (*Hub).Run owns every goroutine of the hub: the listener (or
// poller), the readers and, in keyspace mode, the guard (the safety
// re-read, and the lookups of time to live); each subscription's loop owns
// the goroutine that checks its node's notify-keyspace-events and, in keys
// mode, each connection the goroutine that sends its SUBSCRIBE and
// UNSUBSCRIBE commands, and stops and waits for them before it returns. Run returns only after all of them have returned; its caller
// (cmd) starts it, cancels its context and waits for it. Nothing is started
// by New or Watch.
//
// Waiters. Watch registers a waiter for a job and only then learns the job's
// state (from the hub's current knowledge, or by a read that starts after the
// registration), so no change can slip between the read and the wait. The
// caller owns the waiter and must Close it; Close never blocks on I/O. In
// keys mode the waiter also holds the job's channels until it is closed,
// and the hub's knowledge of a job is handed to a new waiter only while
// every channel of it is confirmed; otherwise Watch reads the job at once
// (its caller is not held for the subscription's round trip), and the
// confirmation of the job's last channel reads it again, so that a change
// written before the subscription, which Redis published to nobody, is in
// that read and reaches the waiter as any change does. Peek, a short
// poll's read, holds no channel and waits for none: a job polled and never
// watched costs no SUBSCRIBE.
//
// Fan-out. A notification is a hint, not data: it marks the job dirty. A job
// is read by at most one reader at a time; notifications that arrive during a
// read mark it dirty again and it is read once more afterwards, so any number
// of notifications and waiters share one read. Where each watched job
// stands (idle, queued for a change or for a safety re-read, being read,
// changed during its read) is one state, whose legal moves are listed in
// entry.go and made there only. Jobs nobody waits for are never
// read. Each read result that differs from the last one (Config.Same) is
// stored in every waiter's one-slot mailbox, replacing an undelivered older
// state, and the waiter's channel of capacity one is signalled without
// blocking: a full channel already holds the wake-up. A slow waiter therefore
// never delays the hub or any other waiter, and always reads the newest state.
// Fan-outs of one job happen in read order, under the hub's lock. A waiter
// whose owner can act on a change without blocking (jobwait writes the
// event to the client's socket when the socket takes it at once) sets
// OnChange instead of a wake-up: the reader calls it once the read's
// fan-outs are stored and the lock released, so a delivery costs no
// goroutine switch; calls for one waiter may overlap, each seeing the
// newest state, and what the owner cannot do at once it hands to its own
// goroutine with Wake. What follows a delivery (jobwait closes a finished
// stream's connection) OnChange returns, and the reader runs it once every
// delivery of the job is made, before the next job of the read: a job's
// last waiter waits for the others' writes only, and in a read of many jobs
// (a burst of completions) a job's closes, which send what its waiters are
// waiting for (jobwait holds a stream's last event for its FIN), do not
// wait for the writes of the jobs after it. A read that expects a
// change (a notification's, a Watch's) is given each job's state as its
// waiters know it, a hint (never trusted as the job's state) that lets it
// read what a change will need with the job itself: jobwait reads a
// completion's result in the record's round trip. One that does not (a
// safety re-read, every read in poll mode) is given none, and reads as
// little as it can: jobwait reads the records of a batch in one MGET.
//
// Doubted states. A state that Config.Doubt questions (a job that was there
// reads as gone; a COMPLETED job without its result) is held back for at
// most the hold Doubt gives it, counted from the first doubted read: the job
// is read again ConfirmDelay later, then after doubling delays (and on every
// notification), and the first read that is not doubted, or the first after
// the hold, is fanned out whatever it is. Waiters keep the last state
// meanwhile, and Watch answers from it; a Watch with no state yet (the
// job's first read was doubted) waits for the settled state, so its
// caller's context must outlast the longest hold. The re-reads' timers end
// with Run's context.
//
// Missed notifications. Nothing obliges Redis to publish: another client
// may switch notify-keyspace-events off or narrow it at runtime, and
// FLUSHALL, FLUSHDB and SWAPDB publish nothing. In keyspace mode two
// safeguards bound what is missed by Config.Resync. The guard re-reads every
// watched job whose last read is Resync old (ticking every Resync/10, so
// within Resync and a tenth), in batches of its own (at most 64 jobs) read
// only when no change waits, so that a change is never read behind a sweep
// of every watched job; a job read for a notification within Resync costs
// no such read, and a change or Watch of a job queued for one moves it
// ahead. And the subscription
// loop of every publishing node checks the node's
// notify-keyspace-events every Resync/2 and adds back what is missing (where
// CONFIG is refused it stops checking; under Config.TrustFlags it sends no
// CONFIG at all), then re-reads every watched job. A
// safety re-read that finds a change whose notification does not follow
// within ConfirmDelay, or a node found lacking NotifyFlags, makes the hub
// blind: its states are not trusted (Watch reads Redis, as while
// unsubscribed) and the guard re-reads every watched job each poll
// interval, until a whole Resync passes without such evidence. The first
// evidence of an episode is logged with its reason; Stats and Blind say so.
// Blindness leaves Ready as it is: answers stay right, only later.
//
// Expiry. Redis removes an expired key, and publishes its expiry, only
// when a command touches it or its sampling finds it, seconds later among
// thousands of keys with a TTL. So in keyspace mode the guard looks up
// (Config.TTLs, in its own goroutine, batched) the time to live of every
// job watched since its last tick, and again after a keyspace event that
// may have changed it (expire and persist, which change nothing else and
// are not read; restore and rename_to, copy_to, move_to, which are read
// too), and its tick comes no later than the soonest expiry: a job whose
// time is up is looked up again, which makes Redis expire the key, and a
// job found gone is read. An expired job is so read within Resync/10 of
// its expiry (at it, for a time to live looked up a tick before), and its
// vanishing confirmed ConfirmDelay later. A job watched for less than a
// tick (a short poll) costs no lookup, a held one one lookup per change
// of its time to live; while polling, whose reads make Redis expire what
// is due, none.
//
// Subscriptions by interest (keys mode). The subscription set holds, per
// node, the channels of every job with a held waiter (refcounted by them),
// each in one state of channel.go's table, whose moves are made there only.
// A channel first wanted waits up to Config.SubscribeWindow for others to
// share its SUBSCRIBE; one whose job's last waiter left lingers for
// Config.Linger, so that a client coming back (an EventSource reconnecting,
// the next long poll) finds it subscribed, and is then unsubscribed in a
// batch. At most one command of a channel is in flight: one wanted again
// while its UNSUBSCRIBE is in flight is subscribed once that is answered.
// Redis answers a connection's commands in order, so a confirmation says
// the channel's events reach the hub from then on; a write before it was
// published to nobody, which is why the confirmation of a job's last
// channel reads that job, and that job only. A new connection (the first,
// and each after a loss) opens by subscribing a channel of its own (so
// that its opening proves, with no job watched, that Redis lets jobwait
// subscribe) and every channel wanted on its node, then a PING: the PING's
// answer confirms the whole opening, like a pattern subscription's
// confirmation, and every watched job is re-read. Each key's channel lives
// on the master that publishes the key's events (Publishers.Owner: on a
// cluster, the master of its slot, so that a job's record and error
// message may live on two); when they move (slots moved, a failover), the
// channel is wanted there and unwanted where it was.
//
// Reconnects. When the subscription drops, the hub is not ready and its
// knowledge is stale: new waiters read Redis themselves. Every subscription
// confirmation (the first and each one after a reconnect) makes sure the node
// still publishes NotifyFlags (a restarted Redis has forgotten CONFIG SET),
// then re-reads every watched job in batches, so a change written while the
// subscription was down still reaches its waiters. While it is down (lost
// and reconnecting, or refused: an ACL that took PSUBSCRIBE away), the
// guard polls as it does while blind: every watched job at every poll
// interval, so that a change is not held until the subscription is back or
// for a Resync. A read that fails is retried after a short delay while the
// job has waiters. Each loss and confirmation is counted; while a
// subscription flaps, at most one of each kind per 10 s is logged (see
// flaps).
//
// Publishers. One listener serves every shape of Redis: it asks
// Redis.Publishers which nodes publish the watched keys' events (a single
// node and Sentinel's primary are a cluster of one master; on a Redis
// Cluster each master publishes the events of its own keys only, and
// Publishers.Owner says which) and holds one subscription per publishing
// node, each in a goroutine the listener
// starts, cancels and waits for. It asks every second and at once when a
// subscription fails; when the publishers' Shape changes (a failover, a
// master added or removed, slots moved) it subscribes to new masters
// (setting notify-keyspace-events on them first), drops old ones and
// re-reads every watched job. Standby nodes (a cluster's replicas) are given
// notify-keyspace-events when first seen, so that a promoted replica
// publishes at once. The hub is ready only while every current publisher's
// subscription is confirmed. A node briefly subscribed twice delivers
// events twice; reads de-duplicate them, since only states that differ
// (Config.Same) are fanned out.
//
// Shutdown. When Run's context ends, the listener and readers stop, and
// Watch answers ErrClosed. Waiters already registered keep their last state;
// their owners end them on their own budget or shutdown signal.
package stream
