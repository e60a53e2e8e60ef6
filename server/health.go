package server

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"jobwait/server/admission"
	"jobwait/server/auth"
	"jobwait/stream"
)

// What operators read: liveness (/healthz), readiness (/readyz) and the
// Prometheus metrics (/metrics); and the page's /api/info.

// healthz answers 200 while the process serves.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString("ok")
}

// RedisHealth is what jobwait last learnt of Redis by trying what its
// requests need (see Config.Redis).
type RedisHealth struct {
	// State is "up"; "down" when Redis does not answer, too slowly, or not
	// as Redis (a TLS failure, LOADING); "refused" when it answers but
	// refuses a read that requests need (an ACL).
	State   string
	Reason  string   // why, when State is not "up"
	Missing []string // the permissions Redis refuses jobwait now, each with what it costs
}

// readiness is /readyz's body.
type readiness struct {
	Status        string        `json:"status"`            // ok | degraded | unavailable
	Redis         string        `json:"redis"`             // up | down | refused
	Subscription  string        `json:"subscription"`      // up | down (poll mode: the poller reaches Redis)
	Notify        string        `json:"notify"`            // keyspace | poll | "" until chosen
	Notifications string        `json:"notifications"`     // ok | blind: changes were missed (see stream.Hub.Blind)
	Blind         string        `json:"blind,omitempty"`   // why, when blind
	Missing       []string      `json:"missing,omitempty"` // Redis permissions lacking, each with its cost (ACL)
	Reason        string        `json:"reason,omitempty"`  // why the status is not ok
	Auth          authReadiness `json:"auth"`              // the wait token keys
}

// readyz answers 200 when Redis answers the reads requests need, the hub
// learns of every change (subscription live, or polling) and wait tokens
// can be checked, 503 otherwise; it never waits on Redis (Config.Redis).
// "degraded" is still 200: a blind hub re-reads watched jobs at the poll
// interval, and every replica on the same Redis is equally blind, so a 503
// would take them all out of rotation at once; a missing permission whose
// cost is a fallback is listed and serving goes on; a stale key set still
// checks tokens with the keys fetched before.
func (s *Server) readyz(c *fiber.Ctx) error {
	r, code := s.readiness()
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(r)
}

// readiness is what /readyz says now, and its status code.
func (s *Server) readiness() (readiness, int) {
	h, st, keys, ready := s.redisHealth(), s.hub.Stats(), s.cfg.Auth.Health(), s.hub.Ready()
	r := readiness{Status: "ok", Redis: h.State, Subscription: "up", Notify: string(s.hub.Mode()), Notifications: "ok", Missing: h.Missing,
		Auth: authReadiness{Mode: keys.Mode, Source: keys.Source, Stale: keys.Stale, Error: keys.Error}}
	if keys.Source == auth.SourceJWKS {
		r.Auth.Keys = &keys.Keys
	}
	if !keys.Fetched.IsZero() {
		r.Auth.Fetched = keys.Fetched.UTC().Format(time.RFC3339)
	}
	if st.Blind {
		r.Notifications, r.Blind = "blind", st.BlindReason
	}
	if !ready {
		r.Subscription = "down"
	}
	switch {
	case h.State != "up":
		r.Status, r.Reason = "unavailable", h.Reason
	case !ready:
		r.Status, r.Reason = "unavailable", notListening(st)
	case !keys.Ready() && keys.Fetched.IsZero():
		r.Status, r.Reason = "unavailable", "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) has not been fetched yet: "+keys.Error
	case !keys.Ready():
		r.Status, r.Reason = "unavailable", "wait tokens refused: the key set (JOBWAIT_AUTH_JWKS_URL) holds no usable key"
	case st.Blind:
		r.Status, r.Reason = "degraded", "notifications missed: "+st.BlindReason
	case keys.Stale:
		r.Status, r.Reason = "degraded", fmt.Sprintf("wait token key set stale: its last fetch failed (%s); tokens are checked with the %d keys fetched at %s",
			keys.Error, keys.Keys, keys.Fetched.UTC().Format(time.RFC3339))
	}
	if r.Status == "unavailable" {
		return r, fiber.StatusServiceUnavailable
	}
	return r, fiber.StatusOK
}

// authReadiness is /readyz's account of the wait token keys (auth.Health).
type authReadiness struct {
	Mode    auth.Mode   `json:"mode"`              // off | optional | required
	Source  auth.Source `json:"source"`            // none | secret | jwks
	Keys    *int        `json:"keys,omitempty"`    // a key set's keys trusted now
	Fetched string      `json:"fetched,omitempty"` // RFC 3339, when the key set was last fetched whole
	Stale   bool        `json:"stale,omitempty"`   // the last fetch failed: Fetched's keys serve
	Error   string      `json:"error,omitempty"`   // why
}

// notListening says why a hub does not learn of every change.
func notListening(st stream.Stats) string {
	why := cmp.Or(st.Down, "not yet")
	switch st.Mode {
	case stream.Keyspace:
		return "the keyspace subscription is not live: " + why
	case stream.Poll:
		return "polling redis fails: " + why
	}
	return "waiting for redis to choose the notify mode"
}

// redisHealth is Config.Redis's last finding; without it (a server built
// without jobwait's checks) Redis is asked PING now.
func (s *Server) redisHealth() RedisHealth {
	if s.cfg.Redis != nil {
		return s.cfg.Redis()
	}
	ctx, cancel := s.redisCtx()
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return RedisHealth{State: "down", Reason: err.Error()}
	}
	return RedisHealth{State: "up"}
}

// info is what the page needs to know of the server.
func (s *Server) info(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{
		"demo":           s.cfg.Demo != nil,
		"waitBudgetMs":   s.cfg.WaitBudget.Milliseconds(),
		"pollIntervalMs": s.cfg.PollInterval.Milliseconds(),
		"notify":         string(s.hub.Mode()),
	})
}

// Build names the running binary in jobwait_build_info.
type Build struct {
	Version   string // the module's version, or the release's
	Revision  string // the VCS revision it was built from
	GoVersion string // the Go release that built it
}

// routeKey is the Locals key of a request's route label; heldKey marks a
// request whose connection was taken over, counted when its wait ends.
const (
	routeKey = "route"
	heldKey  = "held"
)

// metrics is the server's Prometheus registry: requests by route (never by
// job id), held waiters, the wake-up latency and refused wait tokens, and,
// read at scrape time, the runtime, the connections, the hub and the key set.
type metrics struct {
	requests   *prometheus.CounterVec
	waiters    *prometheus.GaugeVec
	wake       prometheus.Histogram
	rejections *prometheus.CounterVec // every series exists from the start
	handler    fiber.Handler
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobwait_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		waiters: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jobwait_waiters",
			Help: "Held waiters by kind (longpoll, sse)."}, []string{"kind"}),
		wake: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "jobwait_wake_latency_seconds",
			Help:    "From a change's notification (or poll) to the waiter's write.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: auth.MetricRejections,
			Help: "Requests refused for their wait token, by code (AUTH_001, AUTH_002) and reason."},
			[]string{auth.LabelCode, auth.LabelReason}),
	}
	m.waiters.WithLabelValues("longpoll")
	m.waiters.WithLabelValues("sse")
	for _, r := range auth.Reasons {
		m.rejections.WithLabelValues(r.Code(), string(r))
	}
	gaugeFunc := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	reg.MustRegister(
		// The default set, and the scheduler's latency and GC's pauses as
		// histograms: what a tail of the wake latency can be laid to.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
			Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`),
		})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.waiters, m.wake, m.rejections, hubMetrics(s.hub), connMetrics(s.conns), authMetrics(s.cfg.Auth),
		gaugeFunc("jobwait_ready", "1 while /readyz answers 200: Redis answers the reads requests need and the hub learns of every change.", nil,
			func() float64 {
				_, code := s.readiness()
				return bit(code == fiber.StatusOK)
			}),
		// So that a dashboard can tell a rollout's old replicas from its new ones.
		gaugeFunc("jobwait_build_info", "1, labelled with the version, the VCS revision and the Go release of the running binary.",
			prometheus.Labels{"version": s.cfg.Build.Version, "revision": s.cfg.Build.Revision, "goversion": s.cfg.Build.GoVersion},
			func() float64 { return 1 }),
		// The cap, so that an alert can say "near it" on every replica.
		gaugeFunc("jobwait_max_waiters", "JOBWAIT_MAX_WAITERS: held waiters past which new ones are refused (SVC_001).", nil,
			func() float64 { return float64(s.cfg.MaxWaiters) }),
	)
	// Out of descriptors, the process collector cannot read /proc: serve
	// what can be collected (the connection counters above all), not a 500.
	m.handler = adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return m
}

// count labels each request with its route once it is answered; an error
// is answered here, so that the status counted is the one sent.
func (s *Server) count(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		if err := s.errorHandler(c, err); err != nil {
			return err
		}
	}
	if held, _ := c.Locals(heldKey).(bool); held {
		return nil // counted by hold, with the status actually sent
	}
	route, _ := c.Locals(routeKey).(string)
	s.metrics.sent(cmp.Or(route, c.Route().Path), c.Response().StatusCode())
	return nil
}

// sent counts one answered request.
func (m *metrics) sent(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// woke records a waiter's write of a change learnt at at.
func (m *metrics) woke(at time.Time) { m.wake.Observe(time.Since(at).Seconds()) }

// scraped exports series read from one snapshot (read) per scrape: the
// hub's walks every watched job under its lock.
type scraped[T any] struct {
	read   func() T
	series []series[T]
}

type series[T any] struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	value  func(T) float64
	labels []string
}

func (c *scraped[T]) gauge(name, help string, value func(T) float64) {
	c.series = append(c.series, series[T]{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, value, nil})
}

func (c *scraped[T]) counter(name, help string, value func(T) uint64) {
	c.series = append(c.series, series[T]{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue,
		func(st T) float64 { return float64(value(st)) }, nil})
}

// by adds one series of a kind per value of its one label.
func (c *scraped[T]) by(kind prometheus.ValueType, name, help, label string, values map[string]func(T) float64) {
	desc := prometheus.NewDesc(name, help, []string{label}, nil)
	for v, value := range values {
		c.series = append(c.series, series[T]{desc, kind, value, []string{v}})
	}
}

func (c *scraped[T]) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.series {
		ch <- s.desc
	}
}

func (c *scraped[T]) Collect(ch chan<- prometheus.Metric) {
	st := c.read()
	for _, s := range c.series {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(st), s.labels...)
	}
}

// bit is 1 for true, 0 for false.
func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// connMetrics exports the connection cap's gauges and counters.
func connMetrics(conns *admission.Conns) *scraped[admission.ConnStats] {
	type st = admission.ConnStats
	c := &scraped[st]{read: conns.Stats}
	c.gauge("jobwait_connections_open", "Client connections open (idle and held ones included).", func(s st) float64 { return float64(s.Open) })
	c.gauge("jobwait_connections_idle", "Client connections kept alive between requests: the first to close, the longest idle first, from the connection cap's high-water mark on.", func(s st) float64 { return float64(s.Idle) })
	c.gauge("jobwait_connections_max", "The cap on open client connections (JOBWAIT_MAX_CONNS; by default the file limit less a reserve).", func(s st) float64 { return float64(s.Max) })
	c.gauge("jobwait_connections_max_per_ip", "The cap on client connections from one address (JOBWAIT_MAX_CONNS_PER_IP; by default an eighth of the connection cap).", func(s st) float64 { return float64(s.MaxPerAddr) })
	refused := map[string]func(st) float64{}
	for why, name := range admission.Reasons {
		refused[name] = func(s st) float64 { return float64(s.Refused[why]) }
	}
	c.by(prometheus.CounterValue, "jobwait_connections_refused_total", "Connections refused at once with 503 SVC_001, by reason: max_conns (at the cap, none idle), max_conns_per_ip (the address at its share), out_of_descriptors.", "reason", refused)
	c.counter("jobwait_connections_reclaimed_total", "Idle kept-alive connections closed to make room for new ones, past seven eighths of the connection cap.", func(s st) uint64 { return s.Reclaimed })
	c.counter("jobwait_connections_silent_total", "New connections cut (408) for sending no byte within JOBWAIT_FIRST_BYTE_TIMEOUT.", func(s st) uint64 { return s.Silent })
	c.counter("jobwait_accept_errors_total", "Failed accepts (EMFILE, ENFILE, ENOBUFS, ...), each retried after a backoff.", func(s st) uint64 { return s.AcceptErrors })
	return c
}

// hubMetrics exports the hub's counters and gauges.
func hubMetrics(hub Hub) *scraped[stream.Stats] {
	type st = stream.Stats
	c := &scraped[st]{read: func() st { return hub.Stats() }} // not hub.Stats: a test's hub is nil
	c.counter("jobwait_hub_notifications_total", "Keyspace notifications received.", func(s st) uint64 { return s.Notifications })
	c.counter("jobwait_hub_job_reads_total", "Jobs read by the hub.", func(s st) uint64 { return s.Reads })
	c.counter("jobwait_hub_read_batches_total", "Batched reads (round trips started) by the hub.", func(s st) uint64 { return s.Batches })
	c.counter("jobwait_hub_read_errors_total", "Batched reads that failed.", func(s st) uint64 { return s.ReadErrors })
	c.counter("jobwait_hub_fanouts_total", "States delivered to waiters.", func(s st) uint64 { return s.Fanouts })
	c.counter("jobwait_hub_resyncs_total", "Re-reads of every watched job after a (re)subscription.", func(s st) uint64 { return s.Resyncs })
	c.counter("jobwait_hub_reconnects_total", "Keyspace subscriptions lost.", func(s st) uint64 { return s.Reconnects })
	c.gauge("jobwait_hub_watched_jobs", "Jobs with at least one waiter.", func(s st) float64 { return float64(s.Jobs) })
	c.gauge("jobwait_hub_live", "1 when the hub learns of every change (subscribed, or polling Redis).", func(s st) float64 { return bit(s.Live) })
	c.counter("jobwait_hub_safety_reads_total", "Jobs re-read because their last read was older than JOBWAIT_RESYNC.", func(s st) uint64 { return s.SafetyReads })
	c.counter("jobwait_hub_unannounced_changes_total", "Changes found by safety re-reads that no notification announced.", func(s st) uint64 { return s.Unannounced })
	c.counter("jobwait_hub_blind_episodes_total", "Times the hub caught itself missing changes.", func(s st) uint64 { return s.BlindEpisodes })
	c.gauge("jobwait_hub_blind", "1 while the hub is caught missing changes (notifications off or narrowed, a flush): watched jobs are re-read at the poll interval.", func(s st) float64 { return bit(s.Blind) })
	c.gauge("jobwait_hub_channels", "JOBWAIT_SUBSCRIBE=keys: keyspace channels held on Redis (lingering ones and those being subscribed included).", func(s st) float64 { return float64(s.Channels) })
	c.by(prometheus.CounterValue, "jobwait_hub_channel_changes_total", "JOBWAIT_SUBSCRIBE=keys: channels named in SUBSCRIBE and UNSUBSCRIBE commands.", "command", map[string]func(st) float64{
		"subscribe":   func(s st) float64 { return float64(s.Subscribed) },
		"unsubscribe": func(s st) float64 { return float64(s.Unsubscribed) },
	})
	modes := map[string]func(st) float64{}
	for _, mode := range []stream.Mode{stream.Keyspace, stream.Poll} {
		modes[string(mode)] = func(s st) float64 { return bit(s.Mode == mode) }
	}
	c.by(prometheus.GaugeValue, "jobwait_notify_mode", "The notify mode in use (1 for the mode).", "mode", modes)
	return c
}

// authMetrics exports the wait token key set's gauges and counters.
func authMetrics(v *auth.Verifier) *scraped[auth.Health] {
	type st = auth.Health
	c := &scraped[st]{read: v.Health}
	c.gauge(auth.MetricJWKSStale, "1 while the last fetch of the wait token key set failed and tokens are checked with the keys fetched before.", func(s st) float64 { return bit(s.Stale) })
	c.gauge(auth.MetricJWKSKeys, "Keys of the wait token key set trusted now.", func(s st) float64 { return float64(s.Keys) })
	c.by(prometheus.CounterValue, auth.MetricJWKSFetches, "Fetches of the wait token key set, by result (ok, error).", auth.LabelResult, map[string]func(st) float64{
		"ok":    func(s st) float64 { return float64(s.Fetches - s.FetchErrors) },
		"error": func(s st) float64 { return float64(s.FetchErrors) },
	})
	return c
}
