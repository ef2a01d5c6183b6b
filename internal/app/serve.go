package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/webhook"
)

// errShutdown is the cause given to the server's context on a clean stop.
var errShutdown = errors.New("shutting down")

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var st settings
	st.register(fs, true)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, demoSecret, err := st.load(getenv, true)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.Log)
	for _, w := range cfg.Warnings {
		logger.Warn("config: " + w)
	}

	store, err := storage.Connect(ctx, cfg.Database, storage.Options{Logger: logger.With("component", "storage")})
	if err != nil {
		return err
	}
	defer store.Close()
	// Say what a start changes in the schema: an upgrade may rebuild tables.
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		logger.Info("database migrated", "applied", applied)
	}

	m := metrics.New()
	authSvc := auth.NewService(store, clientsOf(cfg), cfg.TokenTTL)
	queues := queuesOf(cfg)
	guard := netguard.Policy{AllowPrivate: cfg.Webhooks.AllowPrivate}
	names := map[string]string{}
	var queueIDs []string
	for _, q := range queues {
		names[q.ID] = q.Name
		queueIDs = append(queueIDs, q.ID)
	}
	disp := webhook.New(webhook.Config{
		Store: store, Logger: logger.With("component", "webhooks"), Client: &http.Client{Transport: guard.Transport()},
		Observer: m, Timeout: cfg.Webhooks.Timeout, DisableAfter: cfg.Webhooks.DisableAfter, QueueNames: names,
	})
	gside, err := startGenesys(ctx, cfg, store, queues, m, logger, disp)
	if err != nil {
		return err
	}
	defer gside.close()
	disp.SetJobs(gside.runner)
	store.SetEventHook(disp.Hook)
	endpoints := webhook.NewEndpoints(store, func(u string) string { return guard.CheckURL(u, cfg.Webhooks.AllowHTTP) }, queueIDs)
	if cfg.Webhooks.RotationGrace > 0 {
		endpoints.Grace = cfg.Webhooks.RotationGrace
	}
	book := booking.New(store, queues, booking.Options{Logger: logger.With("component", "booking"), Observer: m,
		Enqueue: gside.runner.Enqueue})
	hub := stream.NewHub(store, logger.With("component", "stream"), cfg.Stream.Ring)
	handler := httpapi.NewServer(httpapi.Deps{
		Booking: book, Auth: authSvc, Store: store, Metrics: m,
		Logger: logger.With("component", "http"), Version: version,
		Stream: stream.NewServer(hub, store, m), PublicURL: cfg.PublicURL, AllowedOrigins: cfg.Stream.AllowedOrigins,
		StreamOptions: stream.Options{Window: cfg.Stream.Window, SlowTimeout: cfg.Stream.SlowConsumerTimeout,
			MaxFrame: cfg.Stream.MaxFrameBytes},
		Webhooks: endpoints, Dispatcher: disp,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errShutdown)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		if cfg.TLS != nil {
			err = srv.ServeTLS(ln, cfg.TLS.Cert, cfg.TLS.Key)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	if err := gside.runner.Start(ctx); err != nil {
		return fmt.Errorf("start the sync: %w", err)
	}
	g.Go(func() error { return gside.listener.Run(gctx) })
	g.Go(func() error { return hub.Run(gctx) })
	// The dispatcher starts delivery jobs for as long as writes can commit:
	// until the sync jobs have stopped, after the HTTP server.
	dctx, dcancel := context.WithCancel(context.WithoutCancel(gctx))
	defer dcancel()
	g.Go(func() error { return disp.Run(dctx) })
	g.Go(func() error { return gside.hours.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down", "cause", context.Cause(gctx).Error())
		// Stop taking requests, then let running sync jobs finish.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer scancel()
		err := srv.Shutdown(sctx)
		jctx, jcancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer jcancel()
		err = errors.Join(err, gside.runner.Stop(jctx))
		dcancel()
		return err
	})
	g.Go(func() error { return housekeeping(gctx, store, cfg, logger.With("component", "housekeeping")) })

	if demoSecret != "" {
		printDemo(stdout, base, cfg, demoSecret)
	}
	logger.Info("slotline started", "version", version, "addr", ln.Addr().String(), "url", base,
		"database", store.Backend(), "queues", len(cfg.Queues), "clients", len(cfg.Clients), "genesys", gside.mode)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// printDemo prints the generated demo client once, on standard output (not
// the log), for trying Slotline out.
func printDemo(w io.Writer, base string, cfg *config.Config, secret string) {
	q := cfg.Queues[0]
	fmt.Fprintf(w, `
Slotline is listening on %s with no config file: this is for trying it out.
Demo queue: %s (%s, open 24/7, %d-minute slots, capacity %d per slot).
A demo API client was generated for this run only (a config file replaces it):

  client_id:     demo
  client_secret: %s

Get a token:
  curl -s -u demo:%s -d grant_type=client_credentials %s/oauth/token

Then, with TOKEN set to its access_token:
  curl -s -H "Authorization: Bearer $TOKEN" '%s/api/v2/queues/%s/availability'

`, base, q.ID, q.TimeZone, q.Schedule.SlotMinutes, q.Schedule.Capacity, secret, secret, base, base, q.ID)
}

// housekeeping deletes expired tokens, Idempotency-Key records and
// finished webhook deliveries older than 30 days, and
// erases phone numbers of finished reservations past the retention period.
func housekeeping(ctx context.Context, store *storage.Store, cfg *config.Config, logger *slog.Logger) error {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		now := time.Now()
		if n, err := store.DeleteExpiredTokens(ctx, now.Add(-time.Minute)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete expired tokens", "err", err)
		} else if n > 0 {
			logger.InfoContext(ctx, "deleted expired tokens", "count", n)
		}
		if _, err := store.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete idempotency keys", "err", err)
		}
		if _, err := store.DeleteOldDeliveries(ctx, now.Add(-30*24*time.Hour)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete old webhook deliveries", "err", err)
		}
		if d := cfg.Retention.EraseNumbersAfter; d > 0 {
			if n, err := store.EraseNumbers(ctx, now.Add(-d)); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "erase phone numbers", "err", err)
			} else if n > 0 {
				logger.InfoContext(ctx, "erased phone numbers of finished reservations", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// connectFromFlags parses the flags of a command that only needs the
// database (--db, --config and their environment variables) and connects
// to it without migrating.
func connectFromFlags(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) (*storage.Store, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var st settings
	st.register(fs, false)
	if err := parseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		return nil, err
	}
	return storage.Connect(ctx, cfg.Database, storage.Options{})
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	store, err := connectFromFlags(ctx, "migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	}
	fmt.Fprintln(stdout, "applied:", strings.Join(applied, ", "))
	return nil
}

func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return &usageError{"usage: slotline audit verify [--db DSN] [--config FILE]"}
	}
	store, err := connectFromFlags(ctx, "audit verify", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("audit log is NOT intact (%d entries checked before the break): %w", n, err)
	}
	head, err := store.AuditHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, head %d %s\n", n, head.Seq, head.Hash)
	return nil
}
