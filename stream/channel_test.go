package stream

import (
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of a keyspace channel's state (subs.go), as the moves that
// lead to each, and the subscription set (subs.go) driven against a
// simulated connection that answers in order, as Redis does.

func TestChannelRules(t *testing.T) {
	tests := []struct {
		rule   string
		moves  []chanEvent
		want   chanState
		queued bool
	}{
		{"a channel first wanted waits for its sender", []chanEvent{wanted}, toSubscribe, true},
		{"wanted and unwanted before it is sent: forgotten, nothing sent", []chanEvent{wanted, unwanted}, chanGone, false},
		{"sent, it awaits its confirmation", []chanEvent{wanted, sent}, subscribing, false},
		{"confirmed: subscribed", []chanEvent{wanted, sent, replied}, subscribed, false},
		{"unwanted while in flight: it lingers once confirmed", []chanEvent{wanted, sent, unwanted, replied}, lingering, false},
		{"... and is subscribed again if wanted meanwhile", []chanEvent{wanted, sent, unwanted, wanted, replied}, subscribed, false},
		{"its last waiter gone: it lingers", []chanEvent{wanted, sent, replied, unwanted}, lingering, false},
		{"wanted within the linger: subscribed, nothing sent", []chanEvent{wanted, sent, replied, unwanted, wanted}, subscribed, false},
		{"its linger over: its UNSUBSCRIBE is sent", []chanEvent{wanted, sent, replied, unwanted, lingered}, unsubscribing, false},
		{"unsubscribed: forgotten", []chanEvent{wanted, sent, replied, unwanted, lingered, replied}, chanGone, false},
		{"wanted while its UNSUBSCRIBE is in flight: subscribed after it", []chanEvent{wanted, sent, replied, unwanted, lingered, wanted}, resubscribing, false},
		{"... queued once it is answered", []chanEvent{wanted, sent, replied, unwanted, lingered, wanted, replied}, toSubscribe, true},
		{"a connection that ends: what is wanted is subscribed anew", []chanEvent{wanted, sent, replied, cut}, toSubscribe, true},
		{"... what lingers is forgotten", []chanEvent{wanted, sent, replied, unwanted, cut}, chanGone, false},
		{"... as is what was being unsubscribed", []chanEvent{wanted, sent, replied, unwanted, lingered, cut}, chanGone, false},
		{"... unless wanted again meanwhile", []chanEvent{wanted, sent, replied, unwanted, lingered, wanted, cut}, toSubscribe, true},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			s := newSubscriptions("p:", func(id string) []string { return []string{id} }, time.Second)
			c := s.placed("a", &channel{name: "p:x", job: &jobChannels{id: "x"}, state: chanGone})
			for _, ev := range tt.moves {
				s.move(c, ev)
			}
			assert.Equal(t, tt.want, c.state, tt.rule)
			assert.Equal(t, tt.queued, slices.Contains(s.nodes["a"].queue, c) && c.state == toSubscribe, "%s: queued", tt.rule)
			_, kept := s.nodes["a"].chans["p:x"]
			assert.Equal(t, tt.want != chanGone, kept, "%s: kept", tt.rule)
		})
	}
}

// TestChannelIllegalMoves: what cannot happen panics rather than send a
// second command of a channel before the first is answered, or answer a
// command never sent.
func TestChannelIllegalMoves(t *testing.T) {
	tests := []struct {
		rule  string
		moves []chanEvent
	}{
		{"a channel is not sent twice", []chanEvent{wanted, sent, sent}},
		{"a reply needs a command", []chanEvent{wanted, replied}},
		{"a subscribed channel is not sent", []chanEvent{wanted, sent, replied, sent}},
		{"a wanted channel is not wanted again", []chanEvent{wanted, sent, replied, wanted}},
		{"a channel not subscribed does not linger", []chanEvent{wanted, lingered}},
	}
	for _, tt := range tests {
		s := newSubscriptions("p:", func(id string) []string { return []string{id} }, time.Second)
		c := s.placed("a", &channel{name: "p:x", job: &jobChannels{id: "x"}, state: chanGone})
		last := len(tt.moves) - 1
		for _, ev := range tt.moves[:last] {
			s.move(c, ev)
		}
		assert.Panics(t, func() { s.move(c, tt.moves[last]) }, tt.rule)
	}
}

// simConn is a connection as Redis processes it: commands in order, each
// channel's reply in order, the subscriptions it holds.
type simConn struct {
	replies []simReply
	subs    map[string]bool
}

type simReply struct{ kind, channel string }

func (c *simConn) send(kind string, channels []string) {
	for _, ch := range channels {
		c.replies = append(c.replies, simReply{kind, ch})
	}
}

// TestSubscriptionsFollowTheConnection drives the set through random
// wants, unwants, sends, replies, lingers and cut connections against a
// simulated connection, and checks after each step that the set never
// holds a channel confirmed that Redis does not have, never has two
// commands of a channel in flight, calls a job live only when Redis holds
// every channel of it, and in the end holds exactly what is wanted.
func TestSubscriptionsFollowTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		keys := func(id string) []string { return []string{id, id + ":error"} }
		s := newSubscriptions("p:", keys, time.Second)
		s.route(func(string) string { return "a" })
		n := s.node("a")
		conn := &simConn{subs: map[string]bool{}}
		gen, opening := s.open(n)
		conn.send("subscribe", opening)
		ids := []string{"j0", "j1", "j2", "j3", "j4"}
		refs := map[string]int{}
		visited := map[chanState]bool{}
		for step := range 20000 {
			switch k := r.IntN(100); {
			case k < 20:
				id := ids[r.IntN(len(ids))]
				s.want(id, s.wantOf(id))
				refs[id]++
			case k < 45:
				if id := ids[r.IntN(len(ids))]; refs[id] > 0 {
					s.unwant(id)
					refs[id]--
				}
			case k < 58:
				subs, unsubs, _ := s.take(n, gen, time.Now())
				conn.send("subscribe", subs)
				conn.send("unsubscribe", unsubs)
			case k < 83:
				if len(conn.replies) > 0 {
					rp := conn.replies[0]
					conn.replies = conn.replies[1:]
					conn.subs[rp.channel] = rp.kind == "subscribe"
					s.reply(n, gen, rp.kind, rp.channel)
				}
			case k < 98:
				time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
			default:
				s.cut(n, gen)
				conn = &simConn{subs: map[string]bool{}}
				gen, opening = s.open(n)
				conn.send("subscribe", opening)
			}
			inFlight := map[string]int{}
			for _, rp := range conn.replies {
				inFlight[rp.channel]++
			}
			for name, c := range n.chans {
				visited[c.state] = true
				require.LessOrEqual(t, inFlight[name], 1, "step %d: %s has two commands in flight", step, name)
				if c.state == subscribed || c.state == lingering {
					require.True(t, conn.subs[name], "step %d: %s %d but not on the connection", step, name, c.state)
				}
			}
			require.Equal(t, len(n.chans), s.count, "step %d: count", step)
			for _, id := range ids {
				if s.live(id) {
					for _, k := range keys(id) {
						require.True(t, conn.subs["p:"+k], "step %d: %s live without %s", step, id, k)
					}
				}
			}
		}
		// Drained: every reply given, every linger over, every command sent.
		for range 4 {
			time.Sleep(2 * time.Second)
			subs, unsubs, _ := s.take(n, gen, time.Now())
			conn.send("subscribe", subs)
			conn.send("unsubscribe", unsubs)
			for _, rp := range conn.replies {
				conn.subs[rp.channel] = rp.kind == "subscribe"
				s.reply(n, gen, rp.kind, rp.channel)
			}
			conn.replies = nil
		}
		for _, id := range ids {
			for _, k := range keys(id) {
				assert.Equal(t, refs[id] > 0, conn.subs["p:"+k], "%s: subscribed as wanted", k)
			}
			assert.Equal(t, refs[id] > 0, s.live(id), "%s: live as wanted", id)
		}
		assert.Len(t, visited, int(resubscribing)-1, "every state but gone visited")
	})
}
