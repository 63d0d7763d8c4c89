package main

import (
	"context"
	"flag"
)

func cmdSafe(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return notBuilt("safe")
}
