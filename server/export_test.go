package server

import (
	"slices"
	"time"

	"jobwait/server/eventid"
)

// Settled reports whether every admitted wait is held: none is between
// its admission and its first state (a Watch still reading), when a job's
// change could still be taken for its first state.
func Settled(s *Server) bool {
	return s.waiters.Held() == int64(s.held.Live())
}

// ManyEventID is the id of event seq of a many-job stream of ids ending at
// deadline, the jobs named in ended ended.
func ManyEventID(deadline time.Time, seq uint64, ids []string, final bool, ended ...string) string {
	marks := make([]bool, len(ids))
	for i, id := range ids {
		marks[i] = slices.Contains(ended, id)
	}
	return string(eventid.AppendMany(nil, deadline, seq, eventid.NewList(ids), marks, final))
}
