package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// cmdSafe drives every output and pwm to its safe level (off, honouring
// active_low) and exits: the systemd unit runs it after every exit of the
// daemon. It sets no initial level and leaves inputs alone; it goes on
// past a pin that fails and exits 1 naming each one.
func cmdSafe(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	verbose := fs.Bool("v", false, "log the periph drivers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("safe takes no arguments (got %q); name the file with -config", fs.Arg(0)))
	}
	cfg, err := cf.load(e)
	if err != nil {
		return configErr(err)
	}
	var outs []string
	for _, d := range cfg.Devices {
		if d.Kind == config.KindOutput || d.Kind == config.KindPWM {
			outs = append(outs, d.Name+" "+d.Pin)
		}
	}
	if len(outs) == 0 {
		fmt.Fprintln(e.stdout, "no outputs to make safe")
		return nil
	}
	pins, sim, err := pinSource(cfg, cmdLogger(e.stderr, *verbose))
	if err != nil {
		return err
	}
	if err := device.Safe(cfg.Devices, pins); err != nil {
		return fmt.Errorf("not every output is safe:\n%w", err)
	}
	fmt.Fprintf(e.stdout, "safe: %s off\n", strings.Join(outs, ", "))
	printSim(e.stdout, sim)
	return nil
}
