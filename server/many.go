package server

import "slices"

// The answers of the many-job long poll and short poll.

// manyRetry is the Retry-After of a many-job answer: the poll interval
// while any listed job is still running, none once all are final.
func (s *Server) manyRetry(as []*Answer) int {
	if slices.ContainsFunc(as, func(a *Answer) bool { return !a.Final() }) {
		return s.pollRetry()
	}
	return 0
}

// manyBody is {"jobs":[…]} with every job's body in order, each carrying
// its jobId, and "timedOut": true at the deadline.
func manyBody(ids []string, as []*Answer, timedOut bool) []byte {
	n := len(`{"jobs":[],"timedOut":true}`)
	for _, a := range as {
		n += len(a.Body) + 80
	}
	b := make([]byte, 0, n)
	b = append(b, `{"jobs":[`...)
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJobBody(b, ids[i], a)
	}
	b = append(b, ']')
	if timedOut {
		b = append(b, `,"timedOut":true`...)
	}
	return append(b, '}')
}

// appendJobBody appends a's body carrying the job's id: a job's body has
// it already; an error body ({"code","message"}: the job is gone or
// unreadable) gets it in front. ids are valid, so need no escaping.
func appendJobBody(b []byte, id string, a *Answer) []byte {
	if a.Status != "" {
		return append(b, a.Body...)
	}
	b = append(b, `{"jobId":"`...)
	b = append(b, id...)
	b = append(b, `",`...)
	return append(b, a.Body[1:]...)
}
