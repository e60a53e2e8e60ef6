package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/server/admission"
	"jobwait/server/auth"
	"jobwait/server/held"
	"jobwait/store"
	"jobwait/stream"
)

// Defaults of Config's zero values.
const (
	DefaultWaitBudget       = 30 * time.Second
	DefaultPollInterval     = 2 * time.Second
	DefaultHeartbeat        = 15 * time.Second
	DefaultMaxWaiters       = 100000
	DefaultReadTimeout      = 10 * time.Second
	DefaultRedisTimeout     = 3 * time.Second
	DefaultMinReadRate      = 64 << 10 // bytes per second: 512 kbit/s
	DefaultFirstByteTimeout = admission.DefaultFirstByteTimeout
	DefaultMaxIDs           = 50
	// DefaultConnReserve is the part of the file limit the default MaxConns
	// leaves to what is not a client's connection (admission.MaxConnsFor).
	DefaultConnReserve = admission.DefaultConnReserve
)

// Config is the server's settings; zero (or negative) values take the defaults.
type Config struct {
	WaitBudget       time.Duration // the most any wait is held
	PollInterval     time.Duration // Retry-After of short polls and SSE retry:
	Heartbeat        time.Duration // SSE keepalive comment interval
	MaxWaiters       int           // held long polls plus streams
	ReadTimeout      time.Duration // slow clients: time to send a request's headers
	RedisTimeout     time.Duration // one Redis read on a request's path
	MinReadRate      int           // bytes per second: the slowest reading a held response is written to whole
	Demo             *store.Demo   // nil: demo mode off
	Logger           *slog.Logger
	MaxWaitersPerIP  int                // waiters held per client address (IPv6: a /64); zero: no cap
	TrustedProxies   []netip.Prefix     // peers believed about whom they forward for (X-Forwarded-For)
	CORSOrigins      []string           // origins (see ParseOrigins) whose pages may call the API; nil: CORS off
	Redis            func() RedisHealth // jobwait's own last finding of Redis, for /readyz; nil: /readyz asks PING
	MaxConns         int                // client connections open at once, idle ones included (admission.Conns); zero: from the file limit
	MaxConnsPerIP    int                // connections from one address but a trusted proxy's; zero: admission.MaxConnsPerIPFor(MaxConns)
	FirstByteTimeout time.Duration      // a new connection's wait for its first byte; then ReadTimeout runs, from its start
	MaxIDs           int                // the most jobs one many-job wait lists; past it REQ_001
	Build            Build              // labels jobwait_build_info
	Auth             *auth.Verifier     // checks wait tokens (SPEC.md §9); nil is auth.Off
}

// Hub is what the server needs of the hub (*stream.Hub[*Answer]).
type Hub interface {
	Watch(ctx context.Context, id string) (*stream.Waiter[*Answer], *Answer, error)
	Peek(ctx context.Context, id string) (*Answer, error)
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
	waiters *admission.Waiters // held long polls plus streams (see admit)
	conns   *admission.Conns
	held    *held.Takeover
	quitCtx context.Context // ended by Shutdown: held waits end now
	quitNow context.CancelFunc
}

// New returns a server over st and hub; it serves nothing until Listen.
func New(cfg Config, st *store.Store, hub Hub) *Server {
	cfg.WaitBudget = cmp.Or(max(cfg.WaitBudget, 0), DefaultWaitBudget)
	cfg.PollInterval = cmp.Or(max(cfg.PollInterval, 0), DefaultPollInterval)
	cfg.Heartbeat = cmp.Or(max(cfg.Heartbeat, 0), DefaultHeartbeat)
	cfg.MaxWaiters = cmp.Or(max(cfg.MaxWaiters, 0), DefaultMaxWaiters)
	cfg.ReadTimeout = cmp.Or(max(cfg.ReadTimeout, 0), DefaultReadTimeout)
	cfg.RedisTimeout = cmp.Or(max(cfg.RedisTimeout, 0), DefaultRedisTimeout)
	cfg.MinReadRate = cmp.Or(max(cfg.MinReadRate, 0), DefaultMinReadRate)
	cfg.MaxConns = cmp.Or(max(cfg.MaxConns, 0), admission.MaxConnsFor(admission.FileLimit()))
	cfg.MaxConnsPerIP = cmp.Or(max(cfg.MaxConnsPerIP, 0), admission.MaxConnsPerIPFor(cfg.MaxConns))
	cfg.FirstByteTimeout = cmp.Or(max(cfg.FirstByteTimeout, 0), DefaultFirstByteTimeout)
	cfg.MaxIDs = cmp.Or(max(cfg.MaxIDs, 0), DefaultMaxIDs)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	s := &Server{cfg: cfg, log: cfg.Logger, store: st, hub: hub}
	s.quitCtx, s.quitNow = context.WithCancel(context.Background())
	s.conns = admission.NewConns(admission.Config{MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP,
		FirstByteTimeout: cfg.FirstByteTimeout, TrustedProxies: cfg.TrustedProxies,
		Refusal: connRefusal(s.pollRetry()), Logger: cfg.Logger})
	s.metrics = newMetrics(s)
	s.waiters = admission.NewWaiters(cfg.MaxWaiters, cfg.MaxWaitersPerIP, cfg.TrustedProxies)
	s.app = fiber.New(fiber.Config{
		AppName: "jobwait",
		// Strings from the request (the job id, kept by the hub; labels)
		// must outlive the request: fasthttp reuses its buffers.
		Immutable:             true,
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		ReadTimeout:           cfg.ReadTimeout,
		// Responses fasthttp writes (held ones have their own deadline, see
		// held.WriteGrace) are small: a client that stops reading is cut off then.
		WriteTimeout:    cfg.WaitBudget + held.WriteGrace,
		IdleTimeout:     2 * time.Minute,
		ReadBufferSize:  8192,
		WriteBufferSize: 4096,
		BodyLimit:       4096,
	})
	// fasthttp's errors of a malformed request quote its request line, a
	// token in its query among them, and the error handler logs them.
	s.app.Server().SecureErrorLogMessage = true
	s.held = held.NewTakeover(s.app.Server(), cfg.MinReadRate, s.conns)
	s.conns.Watch(s.app.Server())
	s.app.Server().Handler = unknownMethods(s.app.Server().Handler)
	s.routes()
	return s
}

// App is the fiber app, for tests that drive it with app.Test.
func (s *Server) App() *fiber.App { return s.app }

// redisCtx bounds one Redis round trip on a request's path; a request's
// wait never ends it: fasthttp gives no signal when a client leaves.
func (s *Server) redisCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.RedisTimeout)
}

// Listen serves on addr until Shutdown; it fails only if it cannot listen.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln, under the connection cap, until Shutdown; it returns
// nil then. Accept errors never end it (see admission.Listener).
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(s.conns.Listen(ln)) }

// MaxConns is the connection cap in force.
func (s *Server) MaxConns() int { return s.cfg.MaxConns }

// MaxConnsPerIP is the per-address connection cap in force.
func (s *Server) MaxConnsPerIP() int { return s.cfg.MaxConnsPerIP }

// Shutdown ends every held wait at once (long polls get the job's current
// state, streams end as if dropped so that clients reconnect elsewhere) and
// closes the server, waiting at most until ctx ends. Connections already on
// their way back to fasthttp are let in first, so that fasthttp's shutdown
// sees and ends them; none is handed back after.
func (s *Server) Shutdown(ctx context.Context) error {
	s.held.Stop()
	s.quitNow()
	if err := s.held.HandedIn(ctx); err != nil {
		return err
	}
	return errors.Join(s.app.ShutdownWithContext(ctx), s.held.Drained(ctx))
}
