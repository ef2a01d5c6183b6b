package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/slotline/slotline/internal/app"
)

// commonFlags are the flags every bench command takes.
type commonFlags struct {
	db        string
	json      bool
	phaseList string
	phases    map[string]bool // the phases to run, from --phases
}

// register adds --db, --json and, for a command with phases (a
// comma-separated list in allPhases), --phases.
func (c *commonFlags) register(fs *flag.FlagSet, allPhases string) {
	fs.StringVar(&c.db, "db", "", "`database`: postgres://… benches PostgreSQL in fresh schemas; sqlite:PATH puts the SQLite files beside PATH (default: SQLite in a temporary directory)")
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of the table")
	if allPhases != "" {
		fs.StringVar(&c.phaseList, "phases", allPhases, "comma-separated `phases` to run")
	}
}

// check validates --db and reads --phases.
func (c *commonFlags) check(allPhases string) error {
	if c.db != "" && !strings.HasPrefix(c.db, "sqlite:") && !isPostgresDSN(c.db) {
		return app.UsageError("--db must be sqlite:PATH or postgres://…")
	}
	if allPhases == "" {
		return nil
	}
	c.phases = map[string]bool{}
	for p := range strings.SplitSeq(c.phaseList, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(strings.Split(allPhases, ","), p) {
			return app.UsageError(fmt.Sprintf("--phases: %q is not one of %s", p, allPhases))
		}
		c.phases[p] = true
	}
	return nil
}

// runOf is what one run of a command holds: its options O, databases,
// report R and outputs.
type runOf[O, R any] struct {
	opts     *O
	dbs      *benchDBs
	rep      *R
	text     io.Writer // the table, a line per phase as it ends; nil with --json
	progress io.Writer // what is running now
}

// benchEnv is where a report was measured; every report starts with it.
type benchEnv struct {
	Backend   string `json:"backend"`
	Database  string `json:"database"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
}

func newBenchEnv(dbs *benchDBs) benchEnv {
	return benchEnv{Backend: dbs.backend, Database: dbs.about, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// phase is one named step of a command.
type phase struct {
	name string
	run  func(context.Context) error
}

// runPhases runs, in order, the phases selected names.
func runPhases(ctx context.Context, selected map[string]bool, phases ...phase) error {
	for _, p := range phases {
		if !selected[p.name] {
			continue
		}
		if err := p.run(ctx); err != nil {
			return fmt.Errorf("%s phase: %w", p.name, err)
		}
	}
	return nil
}
