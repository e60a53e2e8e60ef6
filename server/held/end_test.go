package held

import "testing"

// TestEndings: the one rule of a response's ends (ending.then), for every
// ending, every end recorded after it, kept alive or not.
func TestEndings(t *testing.T) {
	names := [...]string{"open", "reuse", "close", "done", "drop", "gone"}
	all := []ending{endOpen, endReuse, endClose, endDone, endDrop, endGone}
	for _, e := range all {
		for _, next := range all {
			for _, keepAlive := range []bool{true, false} {
				want := e
				switch {
				case e == endOpen && next == endReuse && !keepAlive:
					want = endClose // not kept alive: a reuse is a close
				case e == endOpen:
					want = next // an open response ends any way
				case next == endGone:
					want = endGone // what a push left fails to go: the client is gone
				}
				if got := e.then(next, keepAlive); got != want {
					t.Errorf("%s.then(%s, keepAlive %v) = %s; want %s", names[e], names[next], keepAlive, names[got], names[want])
				}
			}
		}
	}
}

// TestFinishRecordsOneEnd: the first end recorded stands; only a client
// found gone after it replaces it, and is counted as gone.
func TestFinishRecordsOneEnd(t *testing.T) {
	h := &Conn{keepAlive: true, code: CodeGone}
	if h.Over() {
		t.Fatal("a new response is over")
	}
	h.code = 200
	h.finish(endDone)
	h.finish(endReuse)
	if h.ended != endDone || h.code != 200 {
		t.Fatalf("after Done then Reuse: %d, code %d; want Done, 200", h.ended, h.code)
	}
	h.finish(endGone)
	if h.ended != endGone || h.code != CodeGone {
		t.Fatalf("after Gone: %d, code %d; want Gone, %d", h.ended, h.code, CodeGone)
	}
	h.finish(endClose)
	if h.ended != endGone {
		t.Fatalf("a gone client came back: %d", h.ended)
	}
}
