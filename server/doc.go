// Package server is jobwait's HTTP surface: the routes of SPEC.md, each
// request's parameters and token checked, the error mapping of SPEC.md §3,
// and the page, health, readiness and metrics endpoints.
//
// Where each way to wait is written: the short poll is status (poll.go);
// the long poll is longPoll and its pollScript (poll.go); the one-job and
// many-job event streams are stream and its sseStream (sse.go). Every wait,
// one job or many, is admitted and watched through admitWatch and held
// through hold (wait.go): admission caps come from server/admission, the
// held connection (taking it over from fasthttp, heartbeats, the deadline,
// framing and ending it) from server/held, wake-ups from the stream hub.
// No goroutine runs per held wait: the hub's OnChange and the held
// connection's clock call the script (Change, Fire), which writes at once.
//
// Handlers copy what a wait needs out of fiber.Ctx before the connection
// is taken over and never touch the Ctx afterwards (fasthttp reuses it).
package server
