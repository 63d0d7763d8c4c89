package main

import (
	"context"
	"flag"
)

func cmdRun(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return notBuilt("daemon")
}
