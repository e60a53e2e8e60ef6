package server

import "jobwait/store"

// CompletedBody is the body jobwait answers for job j completed with r: a
// long poll's answer and the data of a stream's completed event. The load
// tester publishes these same bytes to a peer (Nchan), so that both servers
// carry the same payload in the side-by-side bench.
func CompletedBody(j store.Job, r store.Result) []byte {
	j.Status = store.Completed
	return render(j.JobID, &store.Snapshot{Job: j, Result: &r}).Body
}
