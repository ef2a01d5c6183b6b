package main

import (
	"context"
	"database/sql"
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
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
	"github.com/slotline/slotline/internal/webhook"
)

// The admit bench's honest floors and its store as serve runs it.
//
//   - The group-commit floor is what the store's writer does with the
//     least work a write can be: the clients hand single-row inserts to
//     one committer, which runs all that wait (up to benchGroupMax, the
//     store's maxBatch) in one transaction and commits them together. On
//     PostgreSQL the group's inserts go to the server in one pipeline.
//   - The trivial server is the least an HTTP create can cost over the
//     same loopback with the same clients: a handler that reads the body
//     and answers 201 with a fixed JSON body, in a process of its own.
//   - The bench's store has the event hooks serve installs (the sync's,
//     which inserts each new reservation's River job in the create's
//     transaction, and the webhook dispatcher's), so that the store
//     phases measure the writer's whole transaction.

// benchGroupMax is the most rows one commit of the group-commit floor
// takes, and benchGroupLinger how long it waits for company under load:
// the store's writer's maxBatch and lingerFor.
const (
	benchGroupMax    = 64
	benchGroupLinger = 250 * time.Microsecond
)

// benchGroupFloor is the group-commit floor: insert hands one row to the
// committer and returns once its transaction has committed.
type benchGroupFloor struct {
	reqs    chan chan error
	commits atomic.Int64
	rows    atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
	close   func()
}

// startBenchGroupFloor creates the floor's table on dsn and starts its
// committer, which runs until stop.
func startBenchGroupFloor(ctx context.Context, dsn string) (*benchGroupFloor, error) {
	commit, closeDB, err := benchGroupCommitOp(ctx, dsn)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &benchGroupFloor{reqs: make(chan chan error), cancel: cancel, done: make(chan struct{}), close: closeDB}
	go f.run(cctx, commit)
	return f, nil
}

// run is the committer: it takes the first row waiting, then every other
// one already waiting up to benchGroupMax, and commits them in one
// transaction.
func (f *benchGroupFloor) run(ctx context.Context, commit func(ctx context.Context, n int) error) {
	defer close(f.done)
	group := make([]chan error, 0, benchGroupMax)
	last := 0
	for {
		group = group[:0]
		select {
		case <-ctx.Done():
			return
		case r := <-f.reqs:
			group = append(group, r)
		}
		// The store's writer's collection: what waits, and under load
		// (the last group had company) a linger for as many as the last.
		var linger <-chan time.Time
		if last > 1 {
			linger = time.After(benchGroupLinger)
		}
	more:
		for len(group) < benchGroupMax {
			select {
			case r := <-f.reqs:
				group = append(group, r)
				continue
			default:
			}
			if linger == nil || len(group) >= last {
				break
			}
			select {
			case r := <-f.reqs:
				group = append(group, r)
			case <-linger:
				break more
			}
		}
		last = len(group)
		err := commit(ctx, len(group))
		if err == nil {
			f.commits.Add(1)
			f.rows.Add(int64(len(group)))
		}
		for _, r := range group {
			r <- err
		}
	}
}

// insert is one client's operation: one row, committed.
func (f *benchGroupFloor) insert(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case f.reqs <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the committer and closes the database.
func (f *benchGroupFloor) stop() {
	f.cancel()
	<-f.done
	f.close()
}

// benchGroupCommitOp opens the floor's database (as benchFloorOp does) and
// returns the commit of n single-row inserts in one transaction.
func benchGroupCommitOp(ctx context.Context, dsn string) (func(ctx context.Context, n int) error, func(), error) {
	if isPostgresDSN(dsn) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("connect %s: %w", storage.RedactDSN(dsn), err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE bench_group_floor (id BIGSERIAL PRIMARY KEY, v TEXT)"); err != nil {
			conn.Close(ctx)
			return nil, nil, fmt.Errorf("create the floor table: %w", err)
		}
		commit := func(ctx context.Context, n int) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var b pgx.Batch
				for range n {
					b.Queue("INSERT INTO bench_group_floor (v) VALUES ($1)", benchFloorValue)
				}
				return tx.SendBatch(ctx, &b).Close()
			})
		}
		return commit, func() { conn.Close(context.Background()) }, nil
	}
	db, err := sql.Open("sqlite", storage.SQLiteURL(strings.TrimPrefix(dsn, "sqlite:"), ""))
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE bench_group_floor (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("create the floor table: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, "INSERT INTO bench_group_floor (v) VALUES (?)")
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	commit := func(ctx context.Context, n int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		st := tx.StmtContext(ctx, stmt)
		for range n {
			if _, err := st.ExecContext(ctx, benchFloorValue); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	return commit, func() { stmt.Close(); db.Close() }, nil
}

// benchStore is a store with serve's event hooks installed.
type benchStore struct {
	*storage.Store
	js  *jobs.Client
	dsn string
}

// openBenchStore opens the store on dsn with the job queue and the event
// hooks serve installs: the sync's (each new reservation's sync job, in
// its create's transaction) and the webhook dispatcher's. The jobs are
// inserted, never worked.
func openBenchStore(ctx context.Context, dsn string) (*benchStore, error) {
	st, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		return nil, err
	}
	js := jobs.New(st.JobDriver(), jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	queue := &booking.Queue{ID: benchQueueID, Name: benchQueueID, TimeZone: benchTimeZone}
	runner := syncer.New(syncer.Config{Store: st, Jobs: js, Queues: []*booking.Queue{queue}})
	disp := webhook.New(webhook.Config{Store: st, Jobs: js})
	st.OnEvents(runner.OnEvents, disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open the job queue: %w", err), st.Close())
	}
	return &benchStore{Store: st, js: js, dsn: dsn}, nil
}

// syncJobs counts the sync jobs in the store's database.
func (s *benchStore) syncJobs(ctx context.Context) (int64, error) {
	const q = "SELECT count(*) FROM river_job WHERE kind = 'genesys_sync'"
	var n int64
	if isPostgresDSN(s.dsn) {
		conn, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			return 0, fmt.Errorf("count the sync jobs: %w", err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return 0, fmt.Errorf("count the sync jobs: %w", err)
		}
		return n, nil
	}
	db, err := sql.Open("sqlite", storage.SQLiteURL(strings.TrimPrefix(s.dsn, "sqlite:"), ""))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the sync jobs: %w", err)
	}
	return n, nil
}

// The trivial server is the HTTP floor: "slotline-bench trivial-serve
// --addr ADDR", a process of its own as the server it stands beside is,
// whose one handler answers GET with 200 (its readiness check) and any
// other request, once it has read the body, with 201 and a fixed body.

// benchTrivialBody is the trivial server's answer to a POST, about the
// size of the id and status part of a create's.
const benchTrivialBody = `{"id":"cb_0000000000000000000000","status":"scheduled","version":1}` + "\n"

// benchTrivialHandler is the trivial server's one handler.
func benchTrivialHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, benchTrivialBody)
}

// benchTrivialServeCmd runs "slotline-bench trivial-serve": the trivial
// server on --addr until ctx ends.
func benchTrivialServeCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("trivial-serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen `address`")
	if err := app.ParseFlags(fs, args, stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("trivial server: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(benchTrivialHandler)}
	var wg sync.WaitGroup
	var serveErr error
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	})
	<-ctx.Done()
	// Nothing to drain: the bench stops it once its load has ended.
	err = srv.Close()
	wg.Wait()
	return errors.Join(err, serveErr)
}

// startBenchTrivialServer runs this executable's trivial-serve as a child
// process on a free loopback port.
func startBenchTrivialServer(ctx context.Context, hc *http.Client) (*benchServer, error) {
	addr, err := benchFreeAddr()
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the slotline-bench binary: %w", err)
	}
	return startChildCommand(ctx, hc, bin, "trivial-serve", []string{"--addr", addr})
}
