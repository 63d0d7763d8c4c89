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
	fromState := fs.Bool("from-state", false, "use only the device list the daemon keeps in its state directory (the state_dir of -config's file, else $STATE_DIRECTORY, else "+config.DefaultStateDir+"); nothing to do without one (the systemd unit's ExecStopPost)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("safe takes no arguments (got %q); name the file with -config", fs.Arg(0)))
	}
	var cfg *config.Config
	var err error
	if *fromState {
		dirs := stateDirs(e)
		if cf.path != "" {
			// -config names the daemon's file: its state_dir is where the
			// list is.
			if c, err := cf.load(e); err == nil {
				dirs = []string{c.StateDir}
			} else {
				fmt.Fprintf(e.stderr, "tweetpi safe: cannot read %s (%v); looking in %s\n", cf.path, firstLine(err), strings.Join(dirs, " and "))
			}
		}
		saved, path, ferr := loadSafeFile(dirs)
		if errors.Is(ferr, iofs.ErrNotExist) {
			fmt.Fprintf(e.stdout, "safe: no device list in %s: the daemon drove no pins there\n", strings.Join(dirs, " or "))
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
		saved, path, ferr := loadSafeFile(stateDirs(e))
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

// stateDirs are where the daemon keeps its state when no configuration
// says: $STATE_DIRECTORY (systemd's StateDirectory=), then the default.
func stateDirs(e *env) []string {
	dirs := []string{config.DefaultStateDir}
	if d := e.getenv("STATE_DIRECTORY"); d != "" && strings.Split(d, ":")[0] != config.DefaultStateDir {
		dirs = append([]string{strings.Split(d, ":")[0]}, dirs...)
	}
	return dirs
}

// loadSafeFile reads the device list the daemon wrote for `tweetpi safe`
// from the first of dirs that has one.
func loadSafeFile(dirs []string) (*config.Config, string, error) {
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
