package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"jobwait/server"
	"jobwait/server/auth"
	"jobwait/store/redisconn"
	"jobwait/stream"
)

// Config is every setting of SPEC.md §7, from flags and the environment.
type Config struct {
	Addr     string
	RedisURL string // empty: the embedded store
	// RedisTLS holds the CA and client certificate of rediss:// (from
	// JOBWAIT_REDIS_CA, _CERT, _KEY); nil: the system's roots, no client
	// certificate.
	RedisTLS *tls.Config
	// Server holds the server's settings; run adds what it wires (Logger,
	// Build, Redis, Demo, Auth).
	Server       server.Config
	Auth         auth.Config // wait tokens; the zero value is off
	Notify       stream.Mode
	Subscribe    stream.Subscribe // what keyspace mode subscribes to
	Demo         bool
	DemoDelay    time.Duration
	DemoFailRate float64
	LogLevel     string
	PprofAddr    string        // empty: no profiling endpoint
	HealthCheck  bool          // run as a container health check and exit
	Version      bool          // print the version and exit; no other setting is read
	Resync       time.Duration // the most a change no notification announces goes unseen
	ResultGrace  time.Duration // how long a COMPLETED job's missing result is waited for
}

// maxResultGrace keeps the grace under the Redis timeout of a short poll,
// whose first read of a job waits for it (server.DefaultRedisTimeout).
const maxResultGrace = server.DefaultRedisTimeout - 500*time.Millisecond

// setting is one flag and the environment variable behind it.
type setting struct {
	flag, env string
	kind      kind // what -h says it takes
	def       string
	usage     string
}

var settings = []setting{
	{"addr", "JOBWAIT_ADDR", kindString, ":8080", "listen address"},
	{"redis-url", "REDIS_URL", kindString, "", "redis://host:port/db or rediss:// (TLS) (a cluster node is detected; more seeds as ?addr=host:port; ?master_name= names Sentinel); empty: embedded in-process store"},
	{"redis-ca", "JOBWAIT_REDIS_CA", kindString, "", "PEM file of the CA that signed the Redis servers' certificates (rediss://); empty: the system's roots"},
	{"redis-cert", "JOBWAIT_REDIS_CERT", kindString, "", "PEM file of jobwait's client certificate, for Redis servers that require one (mutual TLS)"},
	{"redis-key", "JOBWAIT_REDIS_KEY", kindString, "", "PEM file of the client certificate's private key"},
	{"wait-budget", "JOBWAIT_WAIT_BUDGET", kindDuration, "30s", "the most any wait is held"},
	{"poll-interval", "JOBWAIT_POLL_INTERVAL", kindDuration, "2s", "Retry-After of short polls and SSE retry:"},
	{"heartbeat", "JOBWAIT_HEARTBEAT", kindDuration, "15s", "SSE keepalive comment interval"},
	{"max-waiters", "JOBWAIT_MAX_WAITERS", kindInt, "100000", "held long polls plus streams; past it SVC_001"},
	{"notify", "JOBWAIT_NOTIFY", kindString, "auto", "keyspace, poll, or auto"},
	{"subscribe", "JOBWAIT_SUBSCRIBE", kindString, "keys", "what keyspace mode subscribes to: keys (the channels of the watched jobs only: Redis sends each replica the events of its jobs) or pattern (every job's events to every replica)"},
	{"demo", "JOBWAIT_DEMO", kindBool, "", "demo mode (default: on with the embedded store, off with REDIS_URL)"},
	{"demo-delay", "JOBWAIT_DEMO_DELAY", kindDuration, "5s", "how long the stand-in AI takes to finish a job"},
	{"demo-fail-rate", "JOBWAIT_DEMO_FAIL_RATE", kindFloat, "0.1", "share of demo jobs that end FAILED (0 to 1)"},
	{"auth", "JOBWAIT_AUTH", kindString, "off", "wait tokens: off, optional (checked when one is sent) or required; the key is JOBWAIT_AUTH_SECRET (env only), -auth-secret-file or -auth-jwks-url (docs/auth.md)"},
	{"auth-secret-file", "JOBWAIT_AUTH_SECRET_FILE", kindString, "", "file holding the HS256 secret shared with the Event Service (at least 32 bytes; a trailing newline is dropped)"},
	{"auth-jwks-url", "JOBWAIT_AUTH_JWKS_URL", kindString, "", "the Event Service's JSON Web Key Set (https; http only to loopback), for RS256, ES256 and EdDSA tokens naming their key (kid)"},
	{"auth-audience", "JOBWAIT_AUTH_AUDIENCE", kindString, auth.DefaultAudience, "the audience (aud) a wait token must hold"},
	{"auth-issuer", "JOBWAIT_AUTH_ISSUER", kindString, "", "the issuer (iss) a wait token must name; empty: not checked"},
	{"log-level", "JOBWAIT_LOG_LEVEL", kindString, "info", "debug, info, warn or error"},
	{"pprof-addr", "JOBWAIT_PPROF_ADDR", kindString, "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (off when empty)"},
	{"read-timeout", "JOBWAIT_READ_TIMEOUT", kindDuration, "10s", "time a client has to send a request's line and headers (slow clients are cut off)"},
	{"first-byte-timeout", "JOBWAIT_FIRST_BYTE_TIMEOUT", kindDuration, "5s", "time a new connection has to send its first byte (silent ones get 408 and are closed); the read timeout still bounds the whole request"},
	{"min-read-rate", "JOBWAIT_MIN_READ_RATE", kindInt, "65536", "bytes per second: a held answer or stream must be written by the wait's end + 5 s + its size at this rate"},
	{"max-waiters-per-ip", "JOBWAIT_MAX_WAITERS_PER_IP", kindInt, "0", "held long polls plus streams per client address (IPv6: per /64); past it SVC_001; 0: no cap"},
	{"trusted-proxies", "JOBWAIT_TRUSTED_PROXIES", kindString, "", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client; empty: trust none"},
	{"max-ids", "JOBWAIT_MAX_IDS", kindInt, "50", "the most jobs one many-job stream or long poll (?ids=a,b,c) lists; past it REQ_001"},
	{"cors-origins", "JOBWAIT_CORS_ORIGINS", kindString, "", "comma-separated origins (https://host[:port]) whose pages may call the API, or *; empty: CORS off"},
	{"resync", "JOBWAIT_RESYNC", kindDuration, "5s", "the most a change that sends no notification (notifications switched off at runtime, FLUSHDB) goes unseen: watched jobs not read for this long are read again, notify-keyspace-events is checked twice per interval"},
	{"result-grace", "JOBWAIT_RESULT_GRACE", kindDuration, "2s", "how long a COMPLETED job whose result is missing is re-read before JOB_003 (0 to 2.5s)"},
	{"max-conns", "JOBWAIT_MAX_CONNS", kindInt, "0", "open client connections, idle ones included; past 7/8 of it each new connection closes the one idle longest; at it, with none idle, a new connection gets 503 SVC_001 and is closed; 0: the file limit (RLIMIT_NOFILE) less " + strconv.Itoa(server.DefaultConnReserve)},
	{"max-conns-per-ip", "JOBWAIT_MAX_CONNS_PER_IP", kindInt, "0", "open connections from one client address (IPv6: per /64), idle ones included; past it 503 SVC_001; trusted proxies are not capped per address; 0: an eighth of the connection cap"},
}

// parseConfig reads flags over the environment over the defaults, and
// validates every value with a message naming the setting.
// -h is flag.ErrHelp; a command line it cannot read is a usageError.
func parseConfig(args []string, getenv func(string) string) (Config, error) {
	var cfg Config
	fs, vals := newFlagSet(getenv, &cfg)
	if err := parseArgs(fs, args); err != nil {
		return Config{}, err
	}
	if cfg.Version {
		return cfg, nil // whatever the settings, the version is told
	}
	p := parser{vals: vals}
	cfg.Addr = p.str("addr")
	cfg.RedisURL = p.str("redis-url")
	var err error
	if cfg.RedisTLS, err = redisconn.LoadTLS(p.str("redis-ca"), p.str("redis-cert"), p.str("redis-key")); err != nil {
		p.errs = append(p.errs, err)
	}
	sc := &cfg.Server
	sc.WaitBudget = p.duration("wait-budget", time.Second)
	sc.PollInterval = p.duration("poll-interval", time.Second)
	sc.Heartbeat = p.duration("heartbeat", time.Second)
	sc.MaxWaiters = p.positive("max-waiters")
	cfg.DemoDelay = p.duration("demo-delay", 0)
	cfg.DemoFailRate = p.rate("demo-fail-rate")
	cfg.Demo = p.boolean("demo", cfg.RedisURL == "")
	cfg.LogLevel = p.str("log-level")
	cfg.PprofAddr = p.str("pprof-addr")
	sc.ReadTimeout = p.duration("read-timeout", 0)
	sc.FirstByteTimeout = p.duration("first-byte-timeout", 0)
	sc.MinReadRate = p.positive("min-read-rate")
	sc.MaxWaitersPerIP = p.nonNegative("max-waiters-per-ip")
	sc.TrustedProxies = p.prefixes("trusted-proxies")
	sc.MaxConns = p.nonNegative("max-conns")
	sc.MaxConnsPerIP = p.nonNegative("max-conns-per-ip")
	sc.MaxIDs = p.positive("max-ids")
	sc.CORSOrigins = parse(&p, "cors-origins", server.ParseOrigins)
	cfg.Resync = p.duration("resync", 100*time.Millisecond)
	cfg.ResultGrace = p.grace("result-grace")
	cfg.Notify = parse(&p, "notify", stream.ParseMode)
	cfg.Subscribe = parse(&p, "subscribe", stream.ParseSubscribe)
	if !strings.Contains(cfg.Addr, ":") {
		p.fail("addr", errors.New("want host:port or :port"))
	}
	cfg.Auth = p.authConfig(getenv)
	return cfg, errors.Join(p.errs...)
}

// parser converts settings, collecting every error.
type parser struct {
	vals map[string]*value
	errs []error
}

func (p *parser) str(name string) string { return strings.TrimSpace(p.vals[name].text) }

// parse reads a setting with a parser of its own, whose error fails it.
func parse[T any](p *parser, name string, read func(string) (T, error)) T {
	v, err := read(p.str(name))
	if err != nil {
		p.fail(name, err)
	}
	return v
}

func (p *parser) fail(name string, err error) {
	p.errs = append(p.errs, fmt.Errorf("-%s (%s) = %q: %v", name, p.vals[name].env, p.str(name), err))
}

// duration reads a Go duration ("30s") or whole seconds ("30"), at least min.
func (p *parser) duration(name string, min time.Duration) time.Duration {
	s := p.str(name)
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.Atoi(s); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	switch {
	case err != nil:
		p.fail(name, errors.New("want a duration such as 30s"))
	case d <= 0 || d < min:
		p.fail(name, fmt.Errorf("want at least %v", max(min, time.Millisecond)))
	}
	return d
}

// grace reads a duration from 0 to maxResultGrace.
func (p *parser) grace(name string) time.Duration {
	d, err := time.ParseDuration(p.str(name)) // "0" too
	if err != nil || d < 0 || d > maxResultGrace {
		p.fail(name, fmt.Errorf("want a duration from 0 to %v", maxResultGrace))
	}
	return d
}

func (p *parser) positive(name string) int {
	n, err := strconv.Atoi(p.str(name))
	if err != nil || n <= 0 {
		p.fail(name, errors.New("want a whole number above 0"))
	}
	return n
}

func (p *parser) nonNegative(name string) int {
	n, err := strconv.Atoi(p.str(name))
	if err != nil || n < 0 {
		p.fail(name, errors.New("want a whole number, 0 or more"))
	}
	return n
}

// prefixes reads comma-separated CIDRs; a bare address is a prefix of one.
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Split(p.str(name), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pr, err := netip.ParsePrefix(f)
		if a, aerr := netip.ParseAddr(f); aerr == nil {
			pr, err = netip.PrefixFrom(a, a.BitLen()), nil
		}
		if err != nil {
			p.fail(name, fmt.Errorf("%q: want a CIDR such as 10.0.0.0/8", f))
			continue
		}
		out = append(out, pr.Masked())
	}
	return out
}

func (p *parser) rate(name string) float64 {
	f, err := strconv.ParseFloat(p.str(name), 64)
	if err != nil || f < 0 || f > 1 {
		p.fail(name, errors.New("want a number from 0 to 1"))
	}
	return f
}

// boolean reads true/false (1/0, on/off, yes/no); empty is def.
func (p *parser) boolean(name string, def bool) bool {
	switch strings.ToLower(p.str(name)) {
	case "":
		return def
	case "1", "true", "on", "yes":
		return true
	case "0", "false", "off", "no":
		return false
	}
	p.fail(name, errors.New("want true or false"))
	return def
}

// secretEnv holds the HS256 secret itself. It is read from the environment
// only, never from a flag: a process's arguments are visible to every user
// of the machine (ps), and a flag's default would be printed by -h.
const secretEnv = "JOBWAIT_AUTH_SECRET"

// maxSecretFile bounds what is read of JOBWAIT_AUTH_SECRET_FILE.
const maxSecretFile = 4 << 10

// authConfig reads the wait token settings (docs/auth.md) and checks that
// they fit together. No message repeats the secret.
func (p *parser) authConfig(getenv func(string) string) auth.Config {
	c := auth.Config{
		Mode:     parse(p, "auth", auth.ParseMode),
		JWKSURL:  p.str("auth-jwks-url"),
		Audience: p.str("auth-audience"),
		Issuer:   p.str("auth-issuer"),
	}
	secret, file := getenv(secretEnv), p.str("auth-secret-file")
	c.Secret = auth.Secret(secret)
	switch {
	case secret != "" && file != "":
		p.errs = append(p.errs, fmt.Errorf("%s and -auth-secret-file (JOBWAIT_AUTH_SECRET_FILE) are both set: set one", secretEnv))
		return c
	case file != "":
		b, err := readSecret(file)
		if err != nil {
			p.fail("auth-secret-file", err)
			return c
		}
		c.Secret = b
	}
	if err := c.Validate(); err != nil {
		if file != "" {
			err = fmt.Errorf("-auth-secret-file (JOBWAIT_AUTH_SECRET_FILE): %w", err)
		}
		p.errs = append(p.errs, err)
	}
	return c
}

// readSecret reads a secret file as Kubernetes and Docker mount them; a
// trailing newline (echo, an editor) is not part of the secret.
func readSecret(path string) (auth.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) > maxSecretFile:
		return nil, fmt.Errorf("larger than %d bytes: not a secret file", maxSecretFile)
	}
	if b = bytes.TrimRight(b, "\r\n"); len(b) == 0 {
		return nil, errors.New("the file is empty")
	}
	return auth.Secret(b), nil
}
