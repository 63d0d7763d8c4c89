// Command tweetpi runs a device from X: it polls an account's mentions and
// direct messages and turns commands from allowed people into GPIO actions.
//
// main is a few lines; run does the work, so tests can call it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGQUIT stops as SIGTERM does (outputs safe, state kept), not with
	// Go's goroutine dump and exit 2.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
