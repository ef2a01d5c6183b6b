package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/connlimit"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/web"
	"github.com/slotline/slotline/internal/webassets"
	"github.com/slotline/slotline/internal/webhook"
)

// errShutdown is the cause given to the server's context on a clean stop.
var errShutdown = errors.New("shutting down")

// serve runs the server. It builds every part of Slotline and connects
// them, in the order a reservation flows: settings, the listen socket, the
// database, the job queue, the Genesys side, webhooks, the event hooks, the
// API; then it runs them and stops them in reverse.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags beat the environment, which beats the file.
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	setUsage(fs, "serve [--config FILE] [--db DSN] [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE]",
		"Runs the HTTP API, the Genesys sync, the stream, webhooks, the pages and the console. Without\ncredentials it runs in sandbox mode, with the built-in Genesys Cloud simulator.")
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
	defer applyMemoryLimit(cfg, getenv, logger)()

	// What a typo breaks, before anything is started or printed: the TLS
	// files and the listen address, each named by where it was set.
	src := st.sources(cfg, getenv)
	tlsConfig, err := loadTLS(cfg, src)
	if err != nil {
		return err
	}
	tcp, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (%s): %w", cfg.Listen, src.listen, err)
	}
	defer tcp.Close()
	if demoSecret != "" {
		// The demo has a publishable key of its own, for the widget's demo
		// page on this server.
		cfg.PublishableKeys = append(cfg.PublishableKeys, demoPublishableKey(cfg, tcp.Addr(), tlsConfig != nil))
	}

	// The database, migrated (an upgrade may rebuild tables: say so). A
	// SQLite file is locked shared while this process uses it, so that
	// restore refuses to replace it under a running server.
	if file, ok := sqliteFile(cfg.Database); ok {
		unlock, _, err := lockDatabase(file, false)
		if err != nil {
			return err
		}
		defer unlock() // after the store's Close below
	}
	store, err := storage.Connect(ctx, cfg.Database, storage.Options{Logger: logger.With("component", "storage")})
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		logger.Info("database migrated", "applied", applied)
	}

	// The job queue, on the same database; the sync and the webhooks
	// register their jobs with it below, before it opens.
	m := metrics.New()
	// The connection caps: one over them is closed as soon as accepted.
	ln := connlimit.Listen(tcp, connlimit.Config{Max: cfg.HTTP.MaxConnections,
		MaxPerAddress: cfg.HTTP.MaxConnectionsPerAddress, Observer: m})
	js := jobs.New(store.JobDriver(), jobs.Config{Logger: logger.With("component", "jobs")})

	// The Genesys side: the client (of a real org, or of the sandbox
	// simulator), the sync, its notification listener, the hours importer.
	queues := queuesOf(cfg)
	// The self-service links, which the messages to customers carry too.
	links, err := selfLinks(ctx, cfg, store)
	if err != nil {
		return err
	}
	store.SetAuditKey(links.Derive(auditKeyLabel))
	gside, err := startGenesys(ctx, cfg, store, js, queues, links.URL, m, logger)
	if err != nil {
		return err
	}
	defer gside.close()

	// Webhooks: the dispatcher (deliveries, through the SSRF guard) and the
	// endpoints API.
	guard := netguard.Policy{AllowPrivate: cfg.Webhooks.AllowPrivate}
	names := map[string]string{}
	var queueIDs []string
	for _, q := range queues {
		names[q.ID] = q.Name
		queueIDs = append(queueIDs, q.ID)
	}
	authn := auth.NewService(store, clientsOf(cfg), cfg.TokenTTL)
	disp := webhook.New(webhook.Config{
		Store: store, Jobs: js, Logger: logger.With("component", "webhooks"),
		Client: &http.Client{Transport: guard.Transport()}, Observer: m, Timeout: cfg.Webhooks.Timeout,
		DisableAfter: cfg.Webhooks.DisableAfter, QueueNames: names, Workers: cfg.Genesys.Workers,
		SeesAll: func(client string) bool { return authn.ClientHas(client, auth.ScopeCallbackAdmin) },
	})
	endpoints := webhook.NewEndpoints(store, func(u string) string { return guard.CheckURL(u, cfg.Webhooks.AllowHTTP) }, queueIDs)
	if cfg.Webhooks.RotationGrace > 0 {
		endpoints.Grace = cfg.Webhooks.RotationGrace
	}

	// The one in-transaction hook: with the events of every change, the
	// sync enqueues its jobs and the dispatcher records its deliveries.
	store.OnEvents(gside.runner.OnEvents, disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		return fmt.Errorf("open the job queue: %w", err)
	}

	// The API: booking, tokens, the event stream, webhooks.
	book := booking.New(store, queues, booking.Options{Logger: logger.With("component", "booking"), Observer: m, Seal: links.Seal})
	self := selfservice.New(selfservice.Config{Links: links, Booking: book, Store: store, Logger: logger.With("component", "selfservice"),
		Limits: selfservice.Limits{PerToken: cfg.SelfService.PerToken, PerTokenBurst: cfg.SelfService.PerTokenBurst,
			PerAddress: cfg.SelfService.PerAddress, PerAddressBurst: cfg.SelfService.PerAddressBurst}})
	// Browsers: the publishable keys and the proof of work their creates
	// (and the booking page's) need.
	keys := keysOf(cfg)
	proof, err := proofIssuer(ctx, cfg, store)
	if err != nil {
		return err
	}
	var verifyProof func(context.Context, string) error
	if proof != nil {
		verifyProof = proof.Verify
	}
	pages, err := web.New(web.Deps{Booking: book, Self: self, Key: links.Derive(web.KeyLabel),
		Logger: logger.With("component", "web"), PublicURL: cfg.PublicURL,
		VerifyProof: verifyProof, FrameOrigins: keys.Origins})
	if err != nil {
		return err
	}
	hub := stream.NewHub(store, logger.With("component", "stream"), cfg.Stream.Ring)
	// The operators' console: its sign-in and sessions, its pages over the
	// booking service and the stream hub.
	cd := consoleDeps(cfg, store, logger.With("component", "console"), gside, listenBase(tcp.Addr(), tlsConfig != nil))
	cd.Booking, cd.Feed = book, hub
	cd.Capacity = store // the Capacity page's "Keep" decisions
	cd.Reservations = store
	// The health and reports pages: the store, the retry of a failed sync
	// (enqueued and audited in one transaction), the listener's state, the
	// Genesys budget, the replay of a webhook delivery.
	cd.Health = console.HealthDeps{Store: store, Listener: gside.listener.Status, Budget: gside.client.BudgetStatus,
		ReplayDelivery: disp.Retry,
		RetrySync: func(ctx context.Context, id string, w reservation.Write) error {
			_, err := store.RetrySync(ctx, id, w, gside.runner.EnqueueRetry)
			return err
		}}
	cons, err := console.New(cd)
	if err != nil {
		return err
	}
	// The browser code: the widget (CORS for the publishable keys'
	// origins), its demo page and the booking pages' script.
	widgetOpts := webassets.Options{AllowedOrigins: keys.AllOrigins}
	widgetOpts.DemoQueue, widgetOpts.DemoKey = demoKey(cfg)
	handler := httpapi.NewServer(httpapi.Deps{
		Booking: book, Auth: authn, Store: store, Metrics: m,
		LoginThrottle: auth.NewThrottle(auth.ThrottleConfig{
			PerClient: cfg.LoginThrottle.PerClient, PerClientBurst: cfg.LoginThrottle.PerClientBurst,
			PerAddress: cfg.LoginThrottle.PerAddress, PerAddressBurst: cfg.LoginThrottle.PerAddressBurst,
		}),
		Logger: logger.With("component", "http"), Version: version,
		Stream: stream.NewServer(hub, store, m), PublicURL: cfg.PublicURL, AllowedOrigins: cfg.Stream.AllowedOrigins,
		StreamOptions: stream.Options{Window: cfg.Stream.Window, SlowTimeout: cfg.Stream.SlowConsumerTimeout,
			MaxFrame: cfg.Stream.MaxFrameBytes},
		StreamsPerClient: cfg.Stream.MaxSubscriptionsPerClient, WriteTimeout: cfg.HTTP.WriteTimeout,
		Webhooks: endpoints, Dispatcher: disp, Self: self, Pages: pages,
		Keys: keys, Proof: proof, ChallengeLimit: challengeLimit(cfg),
		Widget: webassets.Handler(widgetOpts), Console: cons,
	})

	// Run: the jobs, the listener, the hours importer, the stream hub, the
	// dispatcher, housekeeping, HTTP, and the syncs a previous run left
	// pending.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errShutdown)
	// Time limits: on reading a request's headers and then all of it, on
	// an idle keep-alive connection, and (in the handler, per response:
	// http.write_timeout) on writing the answer. No WriteTimeout here: the
	// handler sets each response's deadline, and the stream its own.
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if err := js.Start(ctx); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	// The parts that run until the stop: the listener, the hours importer,
	// the stream hub, the dispatcher, housekeeping. Some write as they stop
	// (the listener gives its lease up).
	var parts sync.WaitGroup
	part := func(run func() error) {
		parts.Add(1)
		g.Go(func() error {
			defer parts.Done()
			return run()
		})
	}
	dctx, dcancel := context.WithCancel(context.WithoutCancel(gctx))
	defer dcancel()
	part(func() error { return gside.listener.Run(gctx) })
	part(func() error { return gside.hours.Run(gctx) })
	part(func() error { return hub.Run(gctx) })
	// After a fan-out's subscribers leave, their memory goes back to the
	// system within seconds rather than minutes (stream.ReleaseOptions).
	part(func() error { return hub.ReleaseMemory(gctx, stream.ReleaseOptions{}) })
	part(func() error { return disp.Run(dctx) })
	part(func() error { return housekeeping(gctx, store, cfg, logger.With("component", "housekeeping")) })
	// The stop, in reverse: no more requests, then the running jobs, then
	// the dispatcher (which starts delivery jobs for as long as writes can
	// commit), then the database, once the parts have stopped or after
	// partsGrace: closing the store ends a write the database has not
	// finished within its grace (storage.Store.Close), so that a database
	// that does not answer cannot keep the parts waiting on their writes,
	// and the process from exiting.
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down", "cause", context.Cause(gctx).Error())
		partsDue := time.Now().Add(partsGrace) // the parts stop meanwhile
		sctx, scancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer scancel()
		err := srv.Shutdown(sctx)
		jctx, jcancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer jcancel()
		err = errors.Join(err, js.Stop(jctx))
		dcancel()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			parts.Wait() // ends once the store is closed, at the latest
		}()
		t := time.NewTimer(max(time.Until(partsDue), 0))
		defer t.Stop()
		select {
		case <-stopped:
		case <-t.C:
			logger.Warn("parts still stopping after the grace; closing the database under them", "grace", partsGrace.String())
		}
		return errors.Join(err, store.Close())
	})
	g.Go(func() error {
		var err error
		if tlsConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	if err := gside.runner.Resume(gctx); err != nil && gctx.Err() == nil {
		cancel(err)
		return errors.Join(fmt.Errorf("resume the sync: %w", err), g.Wait())
	}

	base := listenBase(ln.Addr(), tlsConfig != nil)
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

// partsGrace is how long after the stop began it waits for the parts (the
// listener, housekeeping, …) to finish before it closes the database
// under them.
const partsGrace = 5 * time.Second

// selfLinks returns the self-service links, made with self_service.secret
// or, when the file sets none, with the secret stored in the database
// (generated by the first process that needed it).
func selfLinks(ctx context.Context, cfg *config.Config, store *storage.Store) (*selfservice.Links, error) {
	secret := cfg.SelfService.Secret
	if secret == "" {
		var err error
		if secret, err = store.SelfServiceSecret(ctx, selfservice.NewSecret()); err != nil {
			return nil, err
		}
	}
	return selfservice.NewLinks(secret, cfg.PublicURL, cfg.SelfService.LinkTTL), nil
}

// loadTLS reads the certificate and key, if TLS is configured, and names
// where they were set when they cannot be read.
func loadTLS(cfg *config.Config, src sources) (*tls.Config, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s (%s): %w", cfg.TLS.Cert, cfg.TLS.Key, src.tls, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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

In a browser:
  the booking page  %s/book/%s
  the widget        %s/widget/demo
  the console       %s/console  ("Sign in with Genesys Cloud": the simulator's users)

`, base, q.ID, q.TimeZone, q.Calendar.SlotMinutes, q.Calendar.Capacity, secret, secret, base, base, q.ID, base, q.ID, base, base)
}

// housekeeping deletes expired tokens, Idempotency-Key records, expired
// proofs of work, console sessions, the records of messages to customers
// of reservations over for 30 days, finished
// webhook deliveries older than 30 days and leases their dead holders left
// an hour ago, and
// erases phone numbers of finished reservations past the retention period.
func housekeeping(ctx context.Context, store *storage.Store, cfg *config.Config, logger *slog.Logger) error {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	var lastAuditPrune time.Time
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
		if _, err := store.DeleteOldNotifications(ctx, now.Add(-30*24*time.Hour)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete old message records", "err", err)
		}
		if _, err := store.DeleteExpiredLeases(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete expired leases", "err", err)
		}
		if _, err := store.DeleteThrottleHits(ctx, now.Add(-config.MaxThrottleWindow)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete old throttle counts", "err", err)
		}
		if _, err := store.DeleteSpentProofs(ctx, now.Add(-time.Minute)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete expired proofs of work", "err", err)
		}
		if _, err := store.DeleteExpiredConsoleSessions(ctx, now.Add(-cfg.Console.SessionIdle), now.Add(-cfg.Console.SessionMax)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "delete expired console sessions", "err", err)
		}
		if d := cfg.Retention.EraseNumbersAfter; d > 0 {
			if n, err := store.EraseNumbers(ctx, now.Add(-d)); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "erase phone numbers", "err", err)
			} else if n > 0 {
				logger.InfoContext(ctx, "erased phone numbers of finished reservations", "count", n)
			}
		}
		retention(ctx, store, cfg, logger, now, &lastAuditPrune)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// auditPruneEvery is how often the audit log is pruned: each pruning
// verifies the whole chain first.
const auditPruneEvery = 24 * time.Hour

// retention prunes the event log (retention.events) at every round and,
// once a day, the audit log (retention.audit), each pruning recorded in
// the audit log. On PostgreSQL one process at a time prunes the audit log
// (the lease retention:audit).
func retention(ctx context.Context, store *storage.Store, cfg *config.Config, logger *slog.Logger, now time.Time, lastAudit *time.Time) {
	if d := cfg.Retention.Events; d > 0 {
		// A durable cursor that has not moved for the retention period is
		// abandoned and holds nothing back.
		n, upTo, err := store.PruneEvents(ctx, now.Add(-d), now.Add(-d))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.WarnContext(ctx, "prune the event log", "err", err)
		case n > 0:
			logger.InfoContext(ctx, "pruned the event log", "count", n, "up_to_seq", upTo)
			recordRetention(ctx, store, logger, now, "retention.prune_events", fmt.Sprintf(`{"deleted":%d,"up_to_seq":%d}`, n, upTo))
		}
	}
	if d := cfg.Retention.Audit; d > 0 && now.Sub(*lastAudit) >= auditPruneEvery {
		*lastAudit = now
		host, _ := os.Hostname()
		if ok, err := store.AcquireLease(ctx, "retention:audit", fmt.Sprintf("%s/%d", host, os.Getpid()), time.Hour); err != nil || !ok {
			return
		}
		n, err := store.PruneAudit(ctx, now.Add(-d), now)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.WarnContext(ctx, "prune the audit log", "err", err)
		case n > 0:
			logger.InfoContext(ctx, "pruned the audit log", "count", n)
			recordRetention(ctx, store, logger, now, "retention.prune_audit", fmt.Sprintf(`{"deleted":%d}`, n))
		}
	}
}

func recordRetention(ctx context.Context, store *storage.Store, logger *slog.Logger, now time.Time, action, detail string) {
	if err := store.RecordAudit(ctx, &audit.Entry{At: now, Actor: "system", Action: action, Target: "retention",
		Outcome: audit.OutcomeOK, Detail: detail}); err != nil && ctx.Err() == nil {
		logger.WarnContext(ctx, "audit the retention run", "err", err)
	}
}

// auditKeyLabel derives the key of the audit log's checkpoints from the
// deployment's self-service secret.
const auditKeyLabel = "slotline audit checkpoint v1"

// connectFromFlags parses the flags of a command that only needs the
// database (--db, --config and their environment variables) and connects
// to it with opts, without migrating.
func connectFromFlags(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, opts storage.Options) (*storage.Store, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	setUsage(fs, name+" [--config FILE | --db DSN]", "Applies the database migrations and exits.")
	var st settings
	st.register(fs, false)
	if err := parseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		return nil, err
	}
	return storage.Connect(ctx, cfg.Database, opts)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	store, err := connectFromFlags(ctx, "migrate", args, getenv, stderr, storage.Options{})
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
	// Verifying reads an existing database: a missing one is not created
	// (an empty file would then fail as if its log had been deleted).
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	setUsage(fs, "audit verify [--config FILE | --db DSN]", "Checks the audit log's hash chain (from its signed checkpoint when pruned); exit status 1 names\nthe first entry edited, removed or reordered.")
	var st settings
	st.register(fs, false)
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		return err
	}
	store, err := storage.Connect(ctx, cfg.Database, storage.Options{MustExist: true})
	if err != nil {
		return err
	}
	defer store.Close()
	if pending, err := store.PendingMigrations(ctx); err != nil || len(pending) > 0 && strings.HasPrefix(pending[0], "0001_") {
		return fmt.Errorf("database %s has no Slotline tables (empty, or not Slotline's; serve or migrate creates them): nothing to verify",
			storage.RedactDSN(store.DSN()))
	}
	// A pruned chain starts at a checkpoint signed with the deployment's
	// key, derived from the self-service secret (configured, or kept in
	// the database).
	if links, err := selfLinks(ctx, cfg, store); err == nil {
		store.SetAuditKey(links.Derive(auditKeyLabel))
	}
	n, err := store.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("audit log is NOT intact (%d entries checked before the break): %w", n, err)
	}
	head, err := store.AuditHead(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(stdout, "audit log intact: it is empty")
		return nil
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, head %d %s\n", n, head.Seq, head.Hash)
	return nil
}

// listenBase is the URL of the listen address: http or, with TLS, https.
func listenBase(addr net.Addr, tls bool) string {
	if tls {
		return "https://" + addr.String()
	}
	return "http://" + addr.String()
}
