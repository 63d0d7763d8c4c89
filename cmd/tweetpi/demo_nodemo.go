//go:build nodemo

package main

import (
	"context"
	"errors"
	"flag"
)

// cmdDemo in the packaged binary: the demo carries a whole fake X API (an
// HTTP server, OAuth checks, the Activity API stream), about half a MiB
// that a Pi running real pins never uses, so deploy/build.sh leaves it out
// (the armv6 binary stays under 9 MiB). It runs from the source instead.
func cmdDemo(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	demoFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return errors.New("the demo is not in this build: the packaged tweetpi leaves out its fake X API to stay small; " +
		"run it from the source with Go 1.26: go run ./cmd/tweetpi demo")
}
