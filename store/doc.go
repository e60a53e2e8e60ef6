// Package store reads and writes the Redis data of AI recommendation jobs:
// the record at job:{id} (a JSON string or a hash), the recommendation at
// ai:recommendation:{eventDraftId} and the error message at job:{id}:error.
// jobwait reads; producers (the demo, tests, the load tester) write
// exactly as the AI service does.
package store
