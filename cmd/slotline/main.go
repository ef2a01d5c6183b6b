// SPDX-License-Identifier: Apache-2.0

// Command slotline is a callback reservation manager for Genesys Cloud.
//
// Run "slotline help" for the list of subcommands. The program itself is
// internal/app; main only hands it the process's arguments, environment
// and standard streams.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slotline/slotline/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slotline:", err)
		os.Exit(app.ExitCode(err))
	}
}
