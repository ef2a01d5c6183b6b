// SPDX-License-Identifier: Apache-2.0

// Command slotline-bench measures Slotline against floors taken in the same
// run: admissions (admit), the drain of a burst to Genesys (sync), the
// event stream's fan-out (stream), webhook deliveries (webhooks), the
// console's capacity heatmap (heatmap, in this process) and the API's lists
// and availability at 100,000 and 1,000,000 reservations (list, in this
// process). Each
// prints its figures and their ratios to the floor, or one JSON report with
// --json.
//
// The server it measures is "slotline serve": by default this binary runs
// it as a child process (slotline-bench serve takes the same flags, and
// runs the same code), --server-bin names a slotline binary instead, and the
// profiling flags run it in this process. slotline-bench trivial-serve is
// admit's HTTP floor, which it runs as a child process of its own too.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/slotline/slotline/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slotline-bench:", err)
		os.Exit(app.ExitCode(err))
	}
}

const usage = `Usage: slotline-bench <command> [flags]

Commands:
  admit          measure admissions per second against a floor
  sync           measure the drain of a burst to Genesys (the simulator)
  stream         measure event stream fan-out to WebSocket subscribers
  webhooks       measure webhook deliveries per second against a loopback floor
  heatmap        measure the console's capacity heatmap (10 queues × 30 days × 96 buckets) against Availability alone
  list           measure the API's lists and availability at 100,000 and 1,000,000 reservations against a lookup by id
  serve          run "slotline serve" (the server the other commands measure)
  trivial-serve  run the HTTP floor of admit: a server that reads each POST and answers 201

Run "slotline-bench <command> -h" for a command's flags.
`

// run is the whole program: main only supplies the process's arguments,
// environment and standard streams.
func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return app.UsageError("no command given")
	}
	var err error
	switch cmd, rest := args[1], args[2:]; cmd {
	case "admit":
		err = benchAdmitCmd(ctx, rest, getenv, stdout, stderr)
	case "sync":
		err = benchSyncCmd(ctx, rest, getenv, stdout, stderr)
	case "stream":
		err = benchStreamCmd(ctx, rest, getenv, stdout, stderr)
	case "webhooks":
		err = benchWebhooksCmd(ctx, rest, getenv, stdout, stderr)
	case "heatmap":
		err = benchHeatmapCmd(ctx, rest, getenv, stdout, stderr)
	case "list":
		err = benchListCmd(ctx, rest, getenv, stdout, stderr)
	case "serve":
		return app.Serve(ctx, rest, getenv, stdout, stderr)
	case "trivial-serve":
		err = benchTrivialServeCmd(ctx, rest, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return app.UsageError(fmt.Sprintf("unknown command %q", cmd))
	}
	if errors.Is(err, app.ErrHelp) {
		return nil
	}
	return err
}
