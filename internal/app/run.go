// SPDX-License-Identifier: Apache-2.0

// Package app is the slotline command: its subcommands (serve, migrate,
// audit verify, sim, watch, operator hash, backup, restore, healthcheck,
// doctor, version) and the wiring of
// serve, which builds every package of Slotline and connects them, top to
// bottom, in serve.go.
// cmd/slotline's main only calls Run; cmd/slotline-bench runs Serve as the
// server it measures.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// version is set at build time with
// -ldflags "-X github.com/slotline/slotline/internal/app.version=…".
var version = "dev"

// usageError is a mistake on the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// errHelp means -h was given; the flag package has printed the usage.
var errHelp = errors.New("help requested")

func quietHelp(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// ExitCode is the process exit status for an error Run returned: 2 for a
// mistake on the command line, 1 for anything else.
func ExitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// Run is the whole program: main only supplies the process's arguments,
// environment and standard streams.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "version", "--version":
		return quietHelp(versionCmd(ctx, rest, stdout, stderr))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve":
		return quietHelp(serve(ctx, rest, getenv, stdout, stderr))
	case "migrate":
		return quietHelp(migrate(ctx, rest, getenv, stdout, stderr))
	case "watch":
		return quietHelp(watch(ctx, rest, getenv, stdout, stderr))
	case "audit":
		return quietHelp(auditCmd(ctx, rest, getenv, stdout, stderr))
	case "bench":
		fmt.Fprintln(stderr, "The benchmarks moved to their own command, slotline-bench: go run ./cmd/slotline-bench admit|sync|stream|webhooks [flags]")
		return &usageError{"slotline bench moved to slotline-bench"}
	case "sim":
		return quietHelp(simCmd(ctx, rest, getenv, stdout, stderr))
	case "backup":
		return quietHelp(backupCmd(ctx, rest, getenv, stdout, stderr))
	case "restore":
		return quietHelp(restoreCmd(ctx, rest, getenv, stdout, stderr))
	case "doctor":
		return quietHelp(doctorCmd(ctx, rest, getenv, stdout, stderr))
	case "healthcheck":
		return quietHelp(healthcheckCmd(ctx, rest, getenv, stdout, stderr))
	case "operator":
		return quietHelp(operatorCmd(ctx, rest, stdin, stdout, stderr))
	default:
		fmt.Fprint(stderr, usage)
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

const usage = `Usage: slotline <command> [flags]

Commands:
  serve           run the HTTP API (SQLite by default; --db postgres://… to scale out)
  migrate         apply database migrations and exit
  audit verify    check the audit log's hash chain
  sim             run the Genesys Cloud simulator on its own
  watch           print the event stream live (acks, resumes after a drop)
  operator hash   read a password from stdin, print its argon2id hash (operators[].password_hash)
  backup          copy the running server's SQLite database to a file (--to FILE)
  restore         put a backup back in place of the SQLite database (--from FILE; not while a server runs)
  doctor          check a deployment before it goes live: config, database, Genesys (--config FILE, --json)
  healthcheck     ask the running server's /healthz (the container's HEALTHCHECK)
  version         print the version and build (--json)

Run "slotline <command> -h" for a command's flags. The benchmarks are a
separate command: slotline-bench.
`

// Serve runs "slotline serve" with args (the flags after "serve"). The
// benchmarks run it as the server they measure.
func Serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return quietHelp(serve(ctx, args, getenv, stdout, stderr))
}

// ParseFlags parses a command's flags, printing usage errors to stderr: a
// mistake is an error for which ExitCode is 2; -h returns ErrHelp.
func ParseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	return parseFlags(fs, args, stderr)
}

// ErrHelp is what ParseFlags returns for -h (the usage is printed).
var ErrHelp = errHelp

// UsageError returns an error for a mistake on the command line (ExitCode 2).
func UsageError(msg string) error { return &usageError{msg} }
