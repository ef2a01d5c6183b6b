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
	default:
		_ = rest
		fmt.Fprint(stderr, usage)
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

const usage = `Usage: slotline <command> [flags]

Commands:
  serve         run the HTTP API (SQLite by default; --db postgres://… to scale out)
  migrate       apply database migrations and exit
  audit verify  check the audit log's hash chain
  bench admit   measure admissions per second against a floor
  version       print the version

Run "slotline <command> -h" for a command's flags.
`
