package server

import (
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

// metrics is the server's Prometheus registry: Go runtime and process
// metrics, requests by route (never by job id), held waiters, open and
// refused connections, the hub's counters, the wake-up latency, and wait
// tokens refused and their key set.
type metrics struct {
	handleErr fiber.ErrorHandler // the app's one error handler
	requests  *prometheus.CounterVec
	waiters   *prometheus.GaugeVec
	wake      prometheus.Histogram
	// rejections counts AUTH_001 and AUTH_002 answers by reason; every
	// series exists from the start, at zero while tokens are off.
	rejections *prometheus.CounterVec
	handler    fiber.Handler
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		handleErr: s.errorHandler,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwait_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		waiters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jobwait_waiters", Help: "Held waiters by kind (longpoll, sse).",
		}, []string{"kind"}),
		wake: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jobwait_wake_latency_seconds",
			Help:    "From a change's notification (or poll) to the waiter's write.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: auth.MetricRejections, Help: "Requests refused for their wait token, by code (AUTH_001, AUTH_002) and reason.",
		}, []string{auth.LabelCode, auth.LabelReason}),
	}
	m.waiters.WithLabelValues("longpoll")
	m.waiters.WithLabelValues("sse")
	for _, r := range auth.Reasons {
		m.rejections.WithLabelValues(r.Code(), string(r))
	}
	reg.MustRegister(m.rejections)
	reg.MustRegister(
		// The default set, and the scheduler's latency and GC's
		// stop-the-world pauses as histograms: what a tail of the wake
		// latency can be laid to.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
			Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`),
		})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.waiters, m.wake, hubCollector{s.hub}, connCollector{s.conns}, authCollector{s.cfg.Auth},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jobwait_ready", Help: "1 while /readyz answers 200: Redis answers the reads requests need and the hub learns of every change.",
		}, func() float64 {
			if _, code := s.readiness(); code == fiber.StatusOK {
				return 1
			}
			return 0
		}),
		// Which binary a replica runs, so that a dashboard can tell a
		// rollout's old replicas from its new ones.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jobwait_build_info", Help: "1, labelled with the version, the VCS revision and the Go release of the running binary.",
			ConstLabels: prometheus.Labels{"version": s.cfg.Build.Version, "revision": s.cfg.Build.Revision, "goversion": s.cfg.Build.GoVersion},
		}, func() float64 { return 1 }),
		// The cap, so that an alert can say "near it" on every replica.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jobwait_max_waiters", Help: "JOBWAIT_MAX_WAITERS: held waiters past which new ones are refused (SVC_001).",
		}, func() float64 { return float64(s.cfg.MaxWaiters) }),
	)
	// Out of descriptors, the process collector cannot read /proc: serve
	// what can be collected (the connection counters above all) rather
	// than a 500.
	m.handler = adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return m
}

// count labels each request with its route once it is answered. An error
// is answered here, by the app's error handler, so that the status counted
// is the one sent.
func (m *metrics) count(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		if err := m.handleErr(c, err); err != nil {
			return err
		}
	}
	if held, _ := c.Locals(heldKey).(bool); held {
		return nil // counted by hold, with the status actually sent
	}
	route, _ := c.Locals(routeKey).(string)
	if route == "" {
		route = c.Route().Path
	}
	m.sent(route, c.Response().StatusCode())
	return nil
}

// sent counts one answered request.
func (m *metrics) sent(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// woke records a waiter's write of a change learnt at at.
func (m *metrics) woke(at time.Time) { m.wake.Observe(time.Since(at).Seconds()) }

// connCollector exports the connection cap's gauges and counters at
// scrape time.
type connCollector struct{ lim *admission.Conns }

var (
	descConnsOpen      = prometheus.NewDesc("jobwait_connections_open", "Client connections open (idle and held ones included).", nil, nil)
	descConnsIdle      = prometheus.NewDesc("jobwait_connections_idle", "Client connections kept alive between requests: the first to close, the longest idle first, from the connection cap's high-water mark on.", nil, nil)
	descConnsMax       = prometheus.NewDesc("jobwait_connections_max", "The cap on open client connections (JOBWAIT_MAX_CONNS; by default the file limit less a reserve).", nil, nil)
	descConnsMaxPerIP  = prometheus.NewDesc("jobwait_connections_max_per_ip", "The cap on client connections from one address (JOBWAIT_MAX_CONNS_PER_IP; by default an eighth of the connection cap).", nil, nil)
	descConnsRefused   = prometheus.NewDesc("jobwait_connections_refused_total", "Connections refused at once with 503 SVC_001, by reason: max_conns (at the cap, none idle), max_conns_per_ip (the address at its share), out_of_descriptors.", []string{"reason"}, nil)
	descConnsReclaimed = prometheus.NewDesc("jobwait_connections_reclaimed_total", "Idle kept-alive connections closed to make room for new ones, past seven eighths of the connection cap.", nil, nil)
	descConnsSilent    = prometheus.NewDesc("jobwait_connections_silent_total", "New connections cut (408) for sending no byte within JOBWAIT_FIRST_BYTE_TIMEOUT.", nil, nil)
	descAcceptErrors   = prometheus.NewDesc("jobwait_accept_errors_total", "Failed accepts (EMFILE, ENFILE, ENOBUFS, ...), each retried after a backoff.", nil, nil)
)

func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnsOpen, descConnsIdle, descConnsMax, descConnsMaxPerIP, descConnsRefused,
		descConnsReclaimed, descConnsSilent, descAcceptErrors} {
		ch <- d
	}
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	st := c.lim.Stats()
	gauge(descConnsOpen, float64(st.Open))
	gauge(descConnsIdle, float64(st.Idle))
	gauge(descConnsMax, float64(st.Max))
	gauge(descConnsMaxPerIP, float64(st.MaxPerAddr))
	for why, name := range admission.Reasons {
		counter(descConnsRefused, st.Refused[why], name)
	}
	counter(descConnsReclaimed, st.Reclaimed)
	counter(descConnsSilent, st.Silent)
	counter(descAcceptErrors, st.AcceptErrors)
}

// hubCollector exports the hub's counters at scrape time.
type hubCollector struct{ hub Hub }

var (
	descNotifications = prometheus.NewDesc("jobwait_hub_notifications_total", "Keyspace notifications received.", nil, nil)
	descReads         = prometheus.NewDesc("jobwait_hub_job_reads_total", "Jobs read by the hub.", nil, nil)
	descBatches       = prometheus.NewDesc("jobwait_hub_read_batches_total", "Batched reads (round trips started) by the hub.", nil, nil)
	descReadErrors    = prometheus.NewDesc("jobwait_hub_read_errors_total", "Batched reads that failed.", nil, nil)
	descFanouts       = prometheus.NewDesc("jobwait_hub_fanouts_total", "States delivered to waiters.", nil, nil)
	descResyncs       = prometheus.NewDesc("jobwait_hub_resyncs_total", "Re-reads of every watched job after a (re)subscription.", nil, nil)
	descReconnects    = prometheus.NewDesc("jobwait_hub_reconnects_total", "Keyspace subscriptions lost.", nil, nil)
	descJobs          = prometheus.NewDesc("jobwait_hub_watched_jobs", "Jobs with at least one waiter.", nil, nil)
	descUp            = prometheus.NewDesc("jobwait_hub_live", "1 when the hub learns of every change (subscribed, or polling Redis).", nil, nil)
	descMode          = prometheus.NewDesc("jobwait_notify_mode", "The notify mode in use (1 for the mode).", []string{"mode"}, nil)
	descSafetyReads   = prometheus.NewDesc("jobwait_hub_safety_reads_total", "Jobs re-read because their last read was older than JOBWAIT_RESYNC.", nil, nil)
	descUnannounced   = prometheus.NewDesc("jobwait_hub_unannounced_changes_total", "Changes found by safety re-reads that no notification announced.", nil, nil)
	descBlindEpisodes = prometheus.NewDesc("jobwait_hub_blind_episodes_total", "Times the hub caught itself missing changes.", nil, nil)
	descBlind         = prometheus.NewDesc("jobwait_hub_blind", "1 while the hub is caught missing changes (notifications off or narrowed, a flush): watched jobs are re-read at the poll interval.", nil, nil)
	descChannels      = prometheus.NewDesc("jobwait_hub_channels", "JOBWAIT_SUBSCRIBE=keys: keyspace channels held on Redis (lingering ones and those being subscribed included).", nil, nil)
	descChanCommands  = prometheus.NewDesc("jobwait_hub_channel_changes_total", "JOBWAIT_SUBSCRIBE=keys: channels named in SUBSCRIBE and UNSUBSCRIBE commands.", []string{"command"}, nil)
)

func (h hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNotifications, descReads, descBatches, descReadErrors, descFanouts, descResyncs, descReconnects, descJobs, descUp, descMode, descSafetyReads, descUnannounced, descBlindEpisodes, descBlind, descChannels, descChanCommands} {
		ch <- d
	}
}

func (h hubCollector) Collect(ch chan<- prometheus.Metric) {
	st := h.hub.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descNotifications, st.Notifications)
	counter(descReads, st.Reads)
	counter(descBatches, st.Batches)
	counter(descReadErrors, st.ReadErrors)
	counter(descFanouts, st.Fanouts)
	counter(descResyncs, st.Resyncs)
	counter(descReconnects, st.Reconnects)
	ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(st.Jobs))
	live := 0.0
	if st.Live {
		live = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, live)
	counter(descSafetyReads, st.SafetyReads)
	counter(descUnannounced, st.Unannounced)
	counter(descBlindEpisodes, st.BlindEpisodes)
	blind := 0.0
	if st.Blind {
		blind = 1
	}
	ch <- prometheus.MustNewConstMetric(descBlind, prometheus.GaugeValue, blind)
	ch <- prometheus.MustNewConstMetric(descChannels, prometheus.GaugeValue, float64(st.Channels))
	ch <- prometheus.MustNewConstMetric(descChanCommands, prometheus.CounterValue, float64(st.Subscribed), "subscribe")
	ch <- prometheus.MustNewConstMetric(descChanCommands, prometheus.CounterValue, float64(st.Unsubscribed), "unsubscribe")
	for _, mode := range []stream.Mode{stream.Keyspace, stream.Poll} {
		v := 0.0
		if st.Mode == mode {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descMode, prometheus.GaugeValue, v, string(mode))
	}
}
