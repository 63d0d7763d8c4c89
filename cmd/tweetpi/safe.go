package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
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
	fromState := fs.Bool("from-state", false, "use only the device list the daemon keeps in its state directory; nothing to do without one (the systemd unit's ExecStopPost)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("safe takes no arguments (got %q); name the file with -config", fs.Arg(0)))
	}
	var cfg *config.Config
	var err error
	if *fromState {
		saved, path, ferr := loadSafeFile(e)
		if errors.Is(ferr, iofs.ErrNotExist) {
			fmt.Fprintln(e.stdout, "safe: no device list in the state directory: the daemon drove no pins")
			return nil
		}
		if ferr != nil {
			return ferr
		}
		fmt.Fprintf(e.stderr, "tweetpi safe: the devices the daemon left in %s\n", path)
		cfg = saved
	} else if cfg, err = cf.load(e); err != nil {
		// ExecStopPost may run without the credential: use the device list
		// the daemon keeps in its state directory.
		saved, path, ferr := loadSafeFile(e)
		if ferr != nil {
			return configErr(err)
		}
		fmt.Fprintf(e.stderr, "tweetpi safe: cannot read the configuration (%v); using the devices the daemon left in %s\n", firstLine(err), path)
		cfg = saved
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

// loadSafeFile reads the device list the daemon wrote for `tweetpi safe`:
// from $STATE_DIRECTORY (systemd's StateDirectory=) or the default state_dir.
func loadSafeFile(e *env) (*config.Config, string, error) {
	dirs := []string{config.DefaultStateDir}
	if d := e.getenv("STATE_DIRECTORY"); d != "" {
		dirs = append([]string{strings.Split(d, ":")[0]}, dirs...)
	}
	var firstErr error
	for _, dir := range dirs {
		cfg, path, err := config.ReadDeviceList(dir)
		var unread *iofs.PathError
		if errors.As(err, &unread) {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return cfg, path, err
	}
	return nil, "", firstErr
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
