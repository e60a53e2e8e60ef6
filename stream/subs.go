package stream

import (
	"iter"
	"maps"
	"slices"
	"time"
)

// subscriptions is keys mode's subscription set: the keyspace channels of
// every job with a held waiter, each on the master that publishes its
// key's events, refcounted by those waiters, subscribed in batches by each
// node's sender (keyspace.go). Guarded by the hub's mu.
type subscriptions struct {
	prefix string                                  // the keyspace channel prefix of the hub's database
	keys   func(id string) []string                // the keys whose events concern a job
	owner  func(key string) string                 // the name of the master that publishes key's events
	linger time.Duration                           // how long a channel no job wants stays subscribed
	jobs   map[string]*jobChannels                 // jobs with held waiters
	nodes  map[string]*nodeChannels                // by node name
	count  int                                     // channels in any state but gone
	sent   struct{ subscribe, unsubscribe uint64 } // channels named in commands, for Stats
}

// jobChannels is one job's want of its channels.
type jobChannels struct {
	id    string
	refs  int        // held waiters
	chans []*channel // one per key, on the node that publishes it now
}

// live reports whether the job is wanted and all its channels confirmed.
func (j *jobChannels) live() bool {
	return j.refs > 0 && !slices.ContainsFunc(j.chans, func(c *channel) bool { return c.state != subscribed })
}

// nodeChannels are the channels of one node. gen counts its connections:
// what an ended connection reports is ignored once the next has begun.
type nodeChannels struct {
	name    string
	chans   map[string]*channel // by channel name
	queue   []*channel          // queued for the sender (toSubscribe), oldest first
	lingers []lingerAt          // lingering, oldest first
	kick    chan struct{}       // capacity one: the sender has work
	gen     uint64              // the current connection; 0: none yet
}

// lingerAt is a channel that began to linger, with its end: stale once it
// left lingering or began to linger again.
type lingerAt struct {
	c     *channel
	until time.Time
}

// channel is the keyspace channel of one key of a watched job, on the
// master that publishes its events.
type channel struct {
	name  string
	job   *jobChannels // the job it was last wanted for
	node  *nodeChannels
	state chanState // changed by move only
	until time.Time // lingering: when it is unsubscribed, unless wanted again
}

// chanState is where one channel stands on its node's connection; its
// legal moves are in chanNext, made by move only. At most one command of
// a channel is in flight, so that the reply that comes is the one its
// state awaits: a channel wanted again while its UNSUBSCRIBE is in flight
// is subscribed once that is answered (resubscribing).
type chanState uint8

const (
	chanIllegal         chanState = iota // no such state: where chanNext has no move
	chanGone                             // neither wanted nor on the connection: forgotten
	toSubscribe                          // wanted; SUBSCRIBE not sent on the node's current connection
	subscribing                          // wanted; SUBSCRIBE sent, its reply awaited
	subscribingUnwanted                  // SUBSCRIBE sent, no longer wanted: lingers once confirmed
	subscribed                           // wanted and confirmed: the key's events reach the hub
	lingering                            // confirmed, no longer wanted: unsubscribed at until, unless wanted again
	unsubscribing                        // its linger over, UNSUBSCRIBE sent; its reply awaited
	resubscribing                        // UNSUBSCRIBE sent and wanted again: SUBSCRIBE once it is answered
)

// chanEvent is what happens to a channel.
type chanEvent uint8

const (
	wanted   chanEvent = iota // its job's first waiter came, or its key's events moved to this node
	unwanted                  // its job's last waiter left, or its key's events moved to another node
	sent                      // its command (SUBSCRIBE or UNSUBSCRIBE) was sent
	replied                   // the reply to its command came
	lingered                  // its linger ended: its sender sends its UNSUBSCRIBE
	cut                       // its node's connection ended: a new one subscribes what is wanted
)

// chanNext is every legal move: chanNext[s][ev] is the state event ev
// leads to from state s; chanIllegal where ev cannot happen in s.
var chanNext = [resubscribing + 1][cut + 1]chanState{
	chanGone:            {wanted: toSubscribe},
	toSubscribe:         {unwanted: chanGone, sent: subscribing, cut: toSubscribe},
	subscribing:         {unwanted: subscribingUnwanted, replied: subscribed, cut: toSubscribe},
	subscribingUnwanted: {wanted: subscribing, replied: lingering, cut: chanGone},
	subscribed:          {unwanted: lingering, cut: toSubscribe},
	lingering:           {wanted: subscribed, lingered: unsubscribing, cut: chanGone},
	unsubscribing:       {wanted: resubscribing, replied: chanGone, cut: chanGone},
	resubscribing:       {unwanted: unsubscribing, replied: toSubscribe, cut: toSubscribe},
}

// awaits reports whether a channel in state s awaits a reply of kind
// ("subscribe" or "unsubscribe"). Any other reply is not its commands'
// (go-redis resubscribes on its own after a failed write, and the hub
// then ends that connection anyway).
func (s chanState) awaits(kind string) bool {
	switch kind {
	case "subscribe":
		return s == subscribing || s == subscribingUnwanted
	case "unsubscribe":
		return s == unsubscribing || s == resubscribing
	}
	return false
}

func newSubscriptions(prefix string, keys func(string) []string, linger time.Duration) *subscriptions {
	return &subscriptions{
		prefix: prefix,
		keys:   keys,
		owner:  func(string) string { return "" }, // no publisher known yet
		linger: linger,
		jobs:   make(map[string]*jobChannels),
		nodes:  make(map[string]*nodeChannels),
	}
}

// node returns the channels of node name, made on first use.
func (s *subscriptions) node(name string) *nodeChannels {
	n := s.nodes[name]
	if n == nil {
		n = &nodeChannels{name: name, chans: make(map[string]*channel), kick: make(chan struct{}, 1)}
		s.nodes[name] = n
	}
	return n
}

// wantOf makes a job's channels, on no node yet. It reads nothing mutable,
// so Watch calls it without the hub's mu: in a burst of new waits, an
// allocation under the lock (and its GC work) queues every Watch behind it.
func (s *subscriptions) wantOf(id string) *jobChannels {
	keys := s.keys(id)
	j := &jobChannels{id: id, chans: make([]*channel, len(keys))}
	for i, key := range keys {
		j.chans[i] = &channel{name: s.prefix + key, job: j, state: chanGone}
	}
	return j
}

// want adds a held waiter of job id and reports whether its channels are
// all confirmed (a job that lingered). made is wantOf(id), or nil.
func (s *subscriptions) want(id string, made *jobChannels) (live bool) {
	j := s.jobs[id]
	if j == nil {
		if j = made; j == nil {
			j = s.wantOf(id)
		}
		s.jobs[id] = j
	}
	j.refs++
	if j.refs == 1 {
		for i, c := range j.chans {
			j.chans[i] = s.placed(s.owner(c.name[len(s.prefix):]), c)
			s.move(j.chans[i], wanted)
		}
	}
	return j.live()
}

// unwant removes a held waiter of job id; with its last, its channels linger.
func (s *subscriptions) unwant(id string) {
	j := s.jobs[id]
	if j == nil {
		return
	}
	if j.refs--; j.refs > 0 {
		return
	}
	delete(s.jobs, id)
	for _, c := range j.chans {
		s.move(c, unwanted)
	}
}

// live reports whether job id is wanted and all its channels confirmed.
func (s *subscriptions) live(id string) bool {
	j := s.jobs[id]
	return j != nil && j.live()
}

// placed returns node's channel named as made is (made itself if none),
// now for made's job.
func (s *subscriptions) placed(node string, made *channel) *channel {
	n := s.node(node)
	c := n.chans[made.name]
	if c == nil {
		c = made
		c.node = n
		n.chans[c.name] = c
		s.count++
	}
	c.job = made.job
	return c
}

// route routes, in keys mode, every key's channel to its master in p:
// Owner, or the first master.
func (h *Hub[T]) route(p Publishers) {
	owner := p.Owner
	if owner == nil {
		first := ""
		if len(p.Masters) > 0 {
			first = p.Masters[0].Name
		}
		owner = func(string) string { return first }
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs != nil {
		h.subs.route(owner)
	}
}

// route makes owner the way keys are routed to their masters and moves
// every wanted channel whose key now belongs to another master.
func (s *subscriptions) route(owner func(key string) string) {
	s.owner = owner
	for _, j := range s.jobs {
		for i, key := range s.keys(j.id) {
			if o := owner(key); o != j.chans[i].node.name {
				s.move(j.chans[i], unwanted)
				j.chans[i] = s.placed(o, &channel{name: s.prefix + key, job: j, state: chanGone})
				s.move(j.chans[i], wanted)
			}
		}
	}
}

// move applies event ev to c and queues c where its new state says: for
// the sender when it enters toSubscribe, with the lingering when it begins
// to linger; it forgets c when gone.
func (s *subscriptions) move(c *channel, ev chanEvent) {
	from, to := c.state, chanNext[c.state][ev]
	if to == chanIllegal {
		panic("stream: illegal move of a keyspace channel")
	}
	c.state = to
	n := c.node
	switch {
	case to == toSubscribe && from != toSubscribe:
		n.queue = append(n.queue, c)
		signal(n.kick)
	case to == lingering:
		c.until = time.Now().Add(s.linger)
		n.lingers = append(n.lingers, lingerAt{c, c.until})
		signal(n.kick)
	case to == chanGone:
		delete(n.chans, c.name)
		s.count--
	}
}

// open begins node n's next connection and returns it with the channels
// wanted there, for its opening.
func (s *subscriptions) open(n *nodeChannels) (gen uint64, chans []string) {
	n.gen++
	n.queue, n.lingers = nil, nil
	chans = s.subscribe(maps.Values(n.chans))
	slices.Sort(chans)
	return n.gen, chans
}

// subscribe marks those of cs still to subscribe sent (others were
// unwanted, or sent by an opening, since) and returns their names.
func (s *subscriptions) subscribe(cs iter.Seq[*channel]) (names []string) {
	for c := range cs {
		if c.state == toSubscribe {
			s.move(c, sent)
			names = append(names, c.name)
		}
	}
	s.sent.subscribe += uint64(len(names))
	return names
}

// take returns, for connection gen of node n at now, the channels to
// subscribe and to unsubscribe (linger over), marked sent, and when the
// next linger ends (zero: none).
func (s *subscriptions) take(n *nodeChannels, gen uint64, now time.Time) (subs, unsubs []string, next time.Time) {
	if gen != n.gen {
		return nil, nil, time.Time{}
	}
	for len(n.lingers) > 0 {
		l := n.lingers[0]
		current := l.c.state == lingering && l.c.until.Equal(l.until)
		if current && l.until.After(now) {
			next = l.until
			break
		}
		n.lingers = n.lingers[1:]
		if current {
			s.move(l.c, lingered)
			unsubs = append(unsubs, l.c.name)
		}
	}
	subs = s.subscribe(slices.Values(n.queue))
	n.queue = nil
	s.sent.unsubscribe += uint64(len(unsubs))
	return subs, unsubs, next

}

// reply applies a reply of kind to channel name on connection gen of node
// n. When it confirms a wanted job's last channel, it returns the job's id:
// a change written before the confirmation was published to nobody.
func (s *subscriptions) reply(n *nodeChannels, gen uint64, kind, name string) (confirmedJob string) {
	c := n.chans[name]
	if gen != n.gen || c == nil || !c.state.awaits(kind) {
		return ""
	}
	s.move(c, replied)
	if c.state == subscribed && s.jobs[c.job.id] == c.job && c.job.live() {
		return c.job.id
	}
	return ""
}

// cut ends connection gen of node n: what is wanted there is subscribed in
// the next connection's opening; the rest is forgotten.
func (s *subscriptions) cut(n *nodeChannels, gen uint64) {
	if gen != n.gen {
		return
	}
	n.gen++ // nothing of gen's counts any more
	n.queue, n.lingers = nil, nil
	for _, c := range n.chans {
		s.move(c, cut)
	}
}
