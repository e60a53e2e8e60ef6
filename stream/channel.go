package stream

import "time"

// channel is one keyspace channel of the subscription set (keys mode) on
// one node: the channel of one key of a watched job, on the master that
// publishes that key's events.
type channel struct {
	name  string
	job   *jobChannels // the job it was last wanted for
	node  *nodeChannels
	state chanState // changed by moveChan only
	until time.Time // lingering: when it is unsubscribed, unless wanted again
}

// chanState is where one channel stands on its node's connection. Its
// legal values and moves are here and nowhere else (chanNext), as a
// watched job's reading's are in entry.go; the two meet in one place only:
// the confirmation of a job's last channel asks for the job's read.
//
// At most one command of a channel is in flight at a time, so that the
// reply that comes is the one its state awaits: a channel wanted again
// while its UNSUBSCRIBE is in flight is subscribed again once that is
// answered (resubscribing).
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

// awaits reports whether a channel in state s awaits the reply of kind
// ("subscribe" or "unsubscribe") to a command it sent. Any other reply is
// none of its commands': go-redis subscribes its channels again on its own
// after a failed write, and the hub then ends that connection anyway.
func (s chanState) awaits(kind string) bool {
	switch kind {
	case "subscribe":
		return s == subscribing || s == subscribingUnwanted
	case "unsubscribe":
		return s == unsubscribing || s == resubscribing
	}
	return false
}
