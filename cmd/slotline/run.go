package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// version is set at build time with -ldflags "-X main.version=…".
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

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run is the whole program: main only supplies the process's arguments,
// environment and standard streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "slotline", version)
		return nil
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
		return quietHelp(benchCmd(ctx, rest, getenv, stdout, stderr))
	case "sim":
		return quietHelp(simCmd(ctx, rest, getenv, stdout, stderr))
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
  bench admit     measure admissions per second against a floor
  bench sync      measure the drain of a burst to Genesys (the simulator)
  bench stream    measure event stream fan-out to WebSocket subscribers
  bench webhooks  measure webhook deliveries per second against a loopback floor
  version         print the version

Run "slotline <command> -h" for a command's flags.
`
