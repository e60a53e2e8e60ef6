package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"jobwait/server"
	"jobwait/server/admission"
	"jobwait/server/auth"
	"jobwait/store"
	"jobwait/store/redisconn"
	"jobwait/stream"
)

// shutdownGrace bounds a graceful shutdown.
const shutdownGrace = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "jobwait:", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(os.Stderr, "jobwait -h lists every setting")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run wires jobwait and serves until ctx ends; -h and -version answer on
// stdout instead.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeUsage(stdout, getenv)
		return nil
	case err != nil:
		return err
	case cfg.Version:
		fmt.Fprintln(stdout, versionText(currentBuild()))
		return nil
	case cfg.HealthCheck:
		return healthCheck(cfg.Addr)
	}
	log, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	redisconn.RouteLogs(log)
	conn, err := redisconn.Open(ctx, redisconn.Settings{URL: cfg.RedisURL, TLS: cfg.RedisTLS}, log)
	if err != nil {
		return err
	}
	defer conn.Close()

	cfg.Notify = conn.NotifyMode(cfg.Notify)
	st := store.Open(conn)
	hcfg := server.HubConfig(st)
	hcfg.Redis, hcfg.DB, hcfg.Notify, hcfg.Subscribe, hcfg.Logger = conn, conn.DB(), cfg.Notify, cfg.Subscribe, log
	// JOBWAIT_NOTIFY=keyspace: the server is configured; jobwait sends no CONFIG.
	hcfg.TrustFlags = cfg.Notify == stream.Keyspace
	hcfg.Resync, hcfg.Doubt = cfg.Resync, server.Doubt(cfg.ResultGrace)
	hub := stream.New(hcfg)
	scfg := cfg.Server
	scfg.Logger, scfg.Build = log, currentBuild()
	check := redisconn.NewCheck(conn, cfg.Notify, cfg.Subscribe, hub, log)
	scfg.Redis = func() server.RedisHealth { return server.RedisHealth(check.Health()) }
	if cfg.Demo {
		scfg.Demo = store.NewDemo(st, cfg.DemoDelay, cfg.DemoFailRate, log)
	}
	// With a key set, New fetches it once (bounded by its timeout); a
	// failure is logged and /readyz says so, and Run retries.
	cfg.Auth.Logger = log
	if scfg.Auth, err = auth.New(ctx, cfg.Auth); err != nil {
		return err
	}
	srv := server.New(scfg, st, hub)

	bg, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = hub.Run(bg) })
	wg.Go(func() { _ = scfg.Auth.Run(bg) })
	if scfg.Demo != nil {
		wg.Go(func() { _ = scfg.Demo.Run(bg) })
	}
	if cfg.PprofAddr != "" {
		wg.Go(func() { servePprof(bg, cfg.PprofAddr, log) })
	}
	wg.Go(func() { check.Run(bg) })
	mistaken := make(chan error, 1) // REDIS_URL turned out to be a cluster node
	wg.Go(func() {
		if err := conn.Run(bg); err != nil {
			mistaken <- err
		}
	})
	defer func() {
		cancel()
		wg.Wait()
	}()

	// Listen returns early only when it cannot listen: accept errors (out of
	// descriptors above all) are retried inside it, never returned.
	listened := make(chan error, 1)
	go func() { listened <- srv.Listen(cfg.Addr) }()
	log.Info("jobwait listening", "version", scfg.Build.Version, "revision", scfg.Build.Revision,
		"addr", cfg.Addr, "redis", conn.String(), "demo", cfg.Demo,
		"wait_budget", scfg.WaitBudget, "notify", cfg.Notify, "subscribe", cfg.Subscribe, "auth", cfg.Auth.Mode,
		"max_conns", srv.MaxConns(), "max_conns_per_ip", srv.MaxConnsPerIP(), "file_limit", admission.FileLimit())
	if nofile := admission.FileLimit(); nofile > 0 && uint64(srv.MaxConns()) > nofile {
		log.Warn("-max-conns (JOBWAIT_MAX_CONNS) is above the file limit: out of descriptors, connections are refused and accepts retried",
			"max_conns", srv.MaxConns(), "file_limit", nofile)
	}

	var failed error
	select {
	case err := <-listened:
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	case failed = <-mistaken:
		log.Error("shutting down", "err", failed)
	case <-ctx.Done():
	}
	log.Info("shutting down: answering held waits")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	<-listened
	return failed
}

// newLogger returns the JSON logger on w at level.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level (JOBWAIT_LOG_LEVEL) = %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: readableDuration})), nil
}

// readableDuration writes a duration as people read it ("1.5s"), not as
// the nanoseconds slog's JSON handler writes: every duration logged
// anywhere, by any package, goes through it.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// healthCheck GETs /healthz on the listen address, for container health
// checks in images without a shell.
func healthCheck(addr string) error {
	host := addr
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + host + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthz: " + resp.Status)
	}
	return nil
}

// servePprof serves the runtime profiles on addr until ctx ends: on its own
// listener, so that profiling is never exposed on the public address.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("pprof server failed", "err", err)
	}
}
