// Package server is jobwait's HTTP side: a fiber app that answers the three
// ways to wait for a job (short poll, long poll, server-sent events), the
// demo producer's endpoint, the page, health, readiness and metrics.
package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"

	"jobwait/store"
	"jobwait/stream"
)

// Defaults of Config's zero values.
const (
	DefaultWaitBudget   = 30 * time.Second
	DefaultPollInterval = 2 * time.Second
	DefaultHeartbeat    = 15 * time.Second
	DefaultMaxWaiters   = 100000
	DefaultReadTimeout  = 10 * time.Second // reading a request's line and headers
	DefaultRedisTimeout = 3 * time.Second  // one Redis read on a request's path
	DefaultMinReadRate  = 64 << 10         // bytes per second: 512 kbit/s
)

// idleTimeout is how long a kept-alive connection may wait for its next
// request.
const idleTimeout = 2 * time.Minute

// Config is the server's settings; zero values take the defaults.
type Config struct {
	WaitBudget   time.Duration // the most any wait is held
	PollInterval time.Duration // Retry-After of short polls and SSE retry:
	Heartbeat    time.Duration // SSE keepalive comment interval
	MaxWaiters   int           // held long polls plus streams
	ReadTimeout  time.Duration // slow clients: time to send a request's headers
	RedisTimeout time.Duration // one Redis read on a request's path
	// MinReadRate (bytes per second) is the slowest reading a held response
	// (long poll, stream) is sure to be written to whole: it must be written
	// by its wait's end + 5 s + its size at this rate (see writeGrace).
	MinReadRate int
	Demo        *store.Demo // nil: demo mode off
	Logger      *slog.Logger

	// MaxWaitersPerIP caps the waiters held for one client address (IPv6:
	// one /64); past it SVC_001. Zero is no cap.
	MaxWaitersPerIP int
	// TrustedProxies are the peers believed about whom they forward for
	// (X-Forwarded-For); nil believes no one. See clientAddr.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the origins (see ParseOrigins) whose pages may call
	// the API; nil turns CORS off.
	CORSOrigins []string
	// Missing, if set, lists the Redis permissions jobwait lacks, each with
	// what it costs, for /readyz.
	Missing func() []string
	// MaxConns caps the client connections open at once, idle ones
	// included; past it a connection is refused at once (see connLimit).
	// Zero derives it from the file limit: MaxConnsFor(FileLimit()).
	MaxConns int
	// MaxIDs is the most jobs one many-job stream or long poll lists
	// (DefaultMaxIDs); past it REQ_001.
	MaxIDs int
}

// Hub is what the server needs of the hub (*stream.Hub[*Answer]).
type Hub interface {
	Watch(ctx context.Context, id string) (*stream.Waiter[*Answer], *Answer, error)
	Mode() stream.Mode
	Ready() bool
	Stats() stream.Stats
}

// Server answers jobwait's HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	hub     Hub
	app     *fiber.App
	metrics *metrics
	limit   *clientLimit
	conns   *connLimit

	held    atomic.Int64  // held long polls plus streams
	quit    chan struct{} // closed by Shutdown: held waits end now
	quitNow sync.Once
	holds   *holds // the held connections
}

// New returns a server over st and hub; it serves nothing until Listen.
func New(cfg Config, st *store.Store, hub Hub) *Server {
	if cfg.WaitBudget <= 0 {
		cfg.WaitBudget = DefaultWaitBudget
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.MaxWaiters <= 0 {
		cfg.MaxWaiters = DefaultMaxWaiters
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = DefaultRedisTimeout
	}
	if cfg.MinReadRate <= 0 {
		cfg.MinReadRate = DefaultMinReadRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = MaxConnsFor(FileLimit())
	}
	if cfg.MaxIDs <= 0 {
		cfg.MaxIDs = DefaultMaxIDs
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: st, hub: hub, quit: make(chan struct{})}
	s.conns = newConnLimit(cfg.MaxConns, s.retryAfter(), cfg.Logger)
	s.metrics = newMetrics(s)
	s.limit = newClientLimit(cfg.MaxWaitersPerIP, cfg.TrustedProxies)
	s.app = fiber.New(fiber.Config{
		AppName: "jobwait",
		// Strings from the request (the job id, kept by the hub; labels)
		// must outlive the request: fasthttp reuses its buffers.
		Immutable:             true,
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		ReadTimeout:           cfg.ReadTimeout,
		// Responses fasthttp writes (held ones have their own deadline, see
		// writeGrace) are small: a client that stops reading is cut off then.
		WriteTimeout:    cfg.WaitBudget + writeGrace,
		IdleTimeout:     idleTimeout,
		ReadBufferSize:  8192,
		WriteBufferSize: 4096,
		BodyLimit:       4096,
	})
	s.holds = newHolds(s.app.Server(), cfg.MinReadRate, s.metrics.sent)
	s.app.Server().Handler = unknownMethods(s.app.Server().Handler)
	s.routes()
	return s
}

func (s *Server) routes() {
	a := s.app
	a.Use(s.metrics.count) // outermost: it also counts the panics recover turns into errors
	a.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	s.cors(a)
	a.All("/api/events/jobs/*", s.jobs)
	a.Post("/api/events/:eventDraftId/ai-recommendations", s.startDemo)
	a.Get("/api/info", s.info)
	a.Get("/healthz", s.healthz)
	a.Get("/readyz", s.readyz)
	a.Get("/metrics", s.metrics.handler)
	s.page(a)
	a.Use(func(c *fiber.Ctx) error { return ErrRouteUnknown })
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("handler panic", "path", c.Path(), "panic", e)
}

// jobs routes /api/events/jobs/{jobId}/status and /stream, and the
// many-job /api/events/jobs/status and /stream (see many). The id is cut
// from the path by hand so that an empty id or one with a '/' is a JOB_002,
// not an unknown route.
func (s *Server) jobs(c *fiber.Ctx) error {
	rest := c.Params("*")
	slash := strings.LastIndexByte(rest, '/')
	if slash < 0 {
		return s.many(c, rest)
	}
	id, action := rest[:slash], rest[slash+1:]
	if action != "status" && action != "stream" {
		return ErrRouteUnknown
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		c.Set(fiber.HeaderAllow, "GET, HEAD")
		return ErrMethod
	}
	c.Locals(routeKey, routeLabel[action])
	if !store.ValidID(id) {
		return ErrBadJobID
	}
	if action == "stream" {
		return s.stream(c, id)
	}
	return s.status(c, id)
}

// unknownMethods answers a method fiber does not know (PROPFIND, BREW)
// ahead of fiber, which would answer it in plain text: 405 REQ_002, as any
// other method jobwait does not serve.
func unknownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	body := ErrMethod.answer().Body
	return func(ctx *fasthttp.RequestCtx) {
		m := ctx.Method()
		if slices.ContainsFunc(fiber.DefaultMethods, func(known string) bool { return string(m) == known }) {
			next(ctx)
			return
		}
		if bytes.HasPrefix(ctx.Path(), []byte("/api/events/jobs/")) {
			ctx.Response.Header.Set(fiber.HeaderAllow, "GET, HEAD")
		}
		ctx.Response.Header.Set(fiber.HeaderCacheControl, "no-store")
		ctx.SetContentType(fiber.MIMEApplicationJSON)
		ctx.SetStatusCode(ErrMethod.Status)
		ctx.SetBody(body)
	}
}

// routeLabel gives each action a constant metrics label.
var routeLabel = map[string]string{"status": "status", "stream": "stream"}

// App is the fiber app, for tests that drive it with app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr until Shutdown. Accept errors never end it (see
// connLimit): it returns an error only when it cannot listen on addr.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln, under the connection cap, until Shutdown; it returns
// nil then. Accept errors never end it.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(s.conns.listen(ln)) }

// MaxConns is the connection cap in force.
func (s *Server) MaxConns() int { return s.cfg.MaxConns }

// Shutdown ends every held wait at once (long polls get the job's current
// state, streams end as if dropped so that clients reconnect elsewhere) and
// closes the server, waiting at most until ctx ends. Connections already on
// their way back to fasthttp are let in first, so that fasthttp's shutdown
// sees and ends them; none is handed back after.
func (s *Server) Shutdown(ctx context.Context) error {
	s.holds.stop()
	s.quitNow.Do(func() { close(s.quit) })
	if err := s.holds.handedIn(ctx); err != nil {
		return err
	}
	err := s.app.ShutdownWithContext(ctx)
	return errors.Join(err, s.holds.drained(ctx))
}

// admit counts a held waiter of a kind ("longpoll", "sse") for the client
// of c, or refuses it past MaxWaiters or MaxWaitersPerIP.
func (s *Server) admit(c *fiber.Ctx, kind string) (release func(), err error) {
	if s.held.Add(1) > int64(s.cfg.MaxWaiters) {
		s.held.Add(-1)
		return nil, tooManyWaiters(s.retryAfter())
	}
	client, ok := s.limit.acquire(c)
	if !ok {
		s.held.Add(-1)
		return nil, tooManyFromClient(s.retryAfter())
	}
	g := s.metrics.waiters.WithLabelValues(kind)
	g.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.held.Add(-1)
			s.limit.release(client)
			g.Dec()
		})
	}, nil
}

// retryAfter is the poll interval in whole seconds, at least one.
func (s *Server) retryAfter() int { return max(1, int(s.cfg.PollInterval/time.Second)) }

// retryFor is the Retry-After of an answer: the poll interval while the job
// is still running, none (0) once it is final.
func (s *Server) retryFor(a *Answer) int {
	if a.Final() {
		return 0
	}
	return s.retryAfter()
}

// watch registers a waiter for id and returns the job's current answer,
// bounded by the Redis timeout.
func (s *Server) watch(id string) (*stream.Waiter[*Answer], *Answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RedisTimeout)
	defer cancel()
	return s.hub.Watch(ctx, id)
}

// admitWatch admits a held waiter of a kind and registers it for id; on
// error nothing is left held. done closes the waiter and releases its
// admission; the caller calls it once.
//
// Past a waiter cap the job is read once, as a short poll reads it: a job
// that does not exist, cannot be read or is final is answered truthfully
// (then a is final, w nil, and nothing is held), and only a job that would
// have to be held is refused SVC_001. The read costs Redis what a short
// poll does, and the client learns at once what no retry would change.
func (s *Server) admitWatch(c *fiber.Ctx, kind, id string) (w *stream.Waiter[*Answer], a *Answer, done func(), err error) {
	release, err := s.admit(c, kind)
	if err != nil {
		a, rerr := s.read(id)
		switch {
		case rerr != nil:
			return nil, nil, nil, rerr
		case a.Final():
			return nil, a, func() {}, nil
		}
		return nil, nil, nil, err
	}
	w, a, err = s.watch(id)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return w, a, func() { w.Close(); release() }, nil
}
