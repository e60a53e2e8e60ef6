// Package stream is jobwait's hub: it holds the waiters of every job, learns
// of changes from Redis keyspace notifications (one subscription per
// publishing node: the one node, or each master of a cluster) or by polling,
// reads a job once per change and fans the new state out to its waiters.
// Keys mode (SubscribeKeys) subscribes to the channels of the watched jobs'
// keys only; pattern mode (SubscribePattern) to every job key's with one
// pattern. What it needs of Redis it declares (Redis, Node, Subscriber);
// store/redisconn provides it.
//
// # Concurrency contract
//
// Goroutines. (*Hub).Run owns every goroutine of the hub (listener or
// poller, readers, guard, each node's subscription with its flags check and
// sender) and returns only after all have returned; cmd starts it, cancels
// its context and waits for it. New and Watch start nothing.
//
// Waiters. Watch registers a waiter, then learns the job's state (the hub's
// knowledge, or a read that starts after the registration), so no change
// slips between read and wait. The caller must Close the waiter; Close never
// blocks on I/O. In keys mode a waiter holds its job's channels until
// closed, and the hub's knowledge is handed out only while every channel of
// the job is confirmed; otherwise Watch reads at once, and the confirmation
// of the job's last channel reads it again, since a write before it was
// published to nobody. Peek, a short poll's read, holds no channel.
//
// Fan-out. A notification is a hint: it marks the job dirty. A job is read
// by at most one reader at a time; notifications during a read make it read
// once more afterwards, so any number of notifications and waiters share one
// read. Where a watched job's reading stands is one state whose legal moves
// are in entry.go. A read that differs from the last (Config.Same) replaces
// the state in every waiter's one-slot mailbox and signals its channel of
// capacity one without blocking, so a slow waiter never delays the hub or
// another waiter. Fan-outs of one job happen in read order, under the hub's
// lock. A waiter with OnChange is called instead, after the lock is
// released; what OnChange returns runs once every delivery of that job is
// made, before the next job of the read. A read that expects a change gets
// each job's state as its waiters know it (a hint for what to read with
// it); a safety re-read, or any read in poll mode, gets none.
//
// Doubted states. A state Config.Doubt questions is held back for at most
// its hold: re-read ConfirmDelay later, then after doubling delays, and the
// first read not doubted, or the first after the hold, is fanned out.
// Meanwhile waiters keep the last state; a Watch with no state yet waits for
// the settled one.
//
// Missed notifications. Redis may stop publishing (notify-keyspace-events
// changed at runtime; FLUSHALL, FLUSHDB and SWAPDB publish nothing). In
// keyspace mode the guard re-reads every watched job whose last read is
// Resync old, in batches of at most SweepBatch read only when no change
// waits; and each node's notify-keyspace-events is checked every Resync/2
// and restored (not where CONFIG is refused, nor under TrustFlags). A safety
// re-read finding a change no notification follows within ConfirmDelay, or a
// node lacking NotifyFlags, makes the hub blind: its states are not trusted
// and every watched job is re-read each poll tick until a whole Resync
// passes without such evidence. Blindness leaves Ready as it is.
//
// Expiry. Redis expires a key, and publishes it, only when a command touches
// it or its sampling finds it, possibly seconds late. So in keyspace mode the
// guard looks up (Config.TTLs) the time to live of jobs watched since its
// last tick or told of a new one, ticks no later than the soonest expiry,
// and looks a due job up again, which makes Redis expire it.
//
// Keys mode. Each node's channels are refcounted by held waiters, each in
// one state of chanNext's table (subs.go). A channel first wanted waits up
// to SubscribeWindow to share its SUBSCRIBE; one no longer wanted lingers
// for Linger, then is unsubscribed in a batch. At most one command of a
// channel is in flight. A connection opens with every channel wanted on its
// node, then an anchor channel, whose reply (Redis answers in order)
// confirms the opening and proves, with no job watched, that Redis lets
// jobwait subscribe; in pattern mode the pattern's reply confirms it. No
// PING is needed to open. Channels follow their key's
// master (Publishers.Owner) when slots move.
//
// Reconnects. While any publisher's subscription is down, the hub is not
// ready, Watch reads Redis, and the guard polls every watched job each poll
// tick. Every confirmation makes sure the node publishes NotifyFlags, then
// re-reads every watched job. A failed read is retried while the job has
// waiters. Losses and confirmations are counted; while a subscription flaps
// at most one of each per 10 s is logged.
//
// Publishers. The listener asks Redis.Publishers every second, and at once
// when a subscription fails; when the Shape changes it subscribes to new
// masters, drops old ones and re-reads every watched job. Standby nodes get
// NotifyFlags when first seen, so a promoted replica publishes at once. A
// node briefly subscribed twice delivers events twice; Same de-duplicates.
//
// Shutdown. When Run's context ends, the listener and readers stop and Watch
// answers ErrClosed; registered waiters keep their last state.
package stream
