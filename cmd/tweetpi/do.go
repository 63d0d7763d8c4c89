package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// cmdDo runs one command text on the pins, as a person at the device: the
// device allow lists do not apply and nothing goes to the network. It is
// for wiring tests: `tweetpi do "led on"`, `tweetpi do "pump pulse 2s"`.
//
// It opens only the devices the text names (so one do does not reset
// another device to its initial level) and, for status and help, the
// inputs. It waits for a pulse, blink or max_on timer to finish; Ctrl-C
// while waiting turns every opened output off. A command that leaves an
// output on ("led on", "fan 40%") holds the line until Ctrl-C, which turns
// it off: with the README's dtparam=strict_gpiod a Raspberry Pi releases a
// line when its process exits, so "led on" would not stay on to be seen.
// Otherwise (off, or once a timer ended) it exits at once. With the sim
// backend the pins live in memory only: do prints their state and exits.
func cmdDo(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	verbose := fs.Bool("v", false, "log every pin change and the periph drivers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(text) == "" {
		return usageErr(`say what to do, for example: tweetpi do "led on" (tweetpi do help lists the devices)`)
	}
	cfg, err := cf.loadChecked(e)
	if err != nil {
		return configErr(err)
	}
	acts, err := device.Parse(text, cfg.Devices)
	if err != nil {
		return errors.New(err.Error())
	}
	if err := notLocal(acts, cfg); err != nil {
		return err
	}
	if len(acts) == 1 && acts[0].Verb == device.VerbHelp {
		fmt.Fprintln(e.stdout, device.Help(cfg.Devices))
		return nil
	}
	if len(acts) == 1 && acts[0].Verb == device.VerbSchedules {
		fmt.Fprintln(e.stdout, device.ListSchedules(cfg.Schedules, time.Local, time.Now()))
		return nil
	}
	if len(acts) == 1 && acts[0].Verb == device.VerbStatus {
		// The daemon holds the outputs: it knows their states.
		if st := daemonStatus(e, cfg); st != nil {
			fmt.Fprintf(e.stdout, "%s (the running daemon's, pid %d)\n", devicesLine(st.Devices), st.PID)
			return nil
		}
	}
	logger := cmdLogger(e.stderr, *verbose)
	pins, sim, err := pinSource(cfg, logger)
	if err != nil {
		return err
	}
	devs := doDevices(acts, cfg)
	board, err := device.Open(devs, pins, doOptions(cfg, devs, sim, logger))
	if err != nil {
		return err
	}
	r := board.Run(ctx, text, device.Caller{Local: true})
	if r.Rejected {
		board.Release()
		return errors.New(r.Reply)
	}
	fmt.Fprintln(e.stdout, r.Reply)
	if len(acts) == 1 && acts[0].Verb == device.VerbStatus {
		if out := undriven(cfg); len(out) > 0 {
			fmt.Fprintf(e.stdout, "%s: not driven (no tweetpi daemon runs, and an output holds its state only while a tweetpi holds its pin)\n", strings.Join(out, ", "))
		}
	}
	if p := board.Pending(); p != "" {
		fmt.Fprintf(e.stderr, "waiting: %s (Ctrl-C turns it off now)\n", p)
	}
	if err := board.Wait(ctx); err != nil {
		cerr := board.Close()
		printSim(e.stdout, sim)
		if cerr != nil {
			return fmt.Errorf("interrupted; turning the outputs off: %w", cerr)
		}
		return errors.New("interrupted: the outputs it opened are off")
	}
	if on := board.On(); len(on) > 0 && sim == nil {
		// With dtparam=strict_gpiod the kernel releases the lines when
		// tweetpi exits: hold them, so that "led on" stays on to be seen.
		fmt.Fprintf(e.stderr, "holding: %s on until Ctrl-C (the line is released when tweetpi exits; Ctrl-C turns it off)\n", strings.Join(on, ", "))
		<-ctx.Done()
		if err := board.Close(); err != nil {
			return fmt.Errorf("turning %s off: %w", strings.Join(on, ", "), err)
		}
		fmt.Fprintf(e.stdout, "%s off\n", strings.Join(on, ", "))
		return nil
	}
	board.Release()
	printSim(e.stdout, sim)
	return nil
}

func printSim(w io.Writer, sim *device.Sim) {
	if sim != nil {
		if s := sim.String(); s != "" {
			fmt.Fprintf(w, "sim pins (in memory only): %s\n", s)
		}
	}
}

// cmdLogger logs warnings to w, or everything with -v.
func cmdLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// daemonStatus is the running daemon's status, or nil when none runs (or
// its status cannot be read).
func daemonStatus(e *env, cfg *config.Config) *bot.Status {
	for _, dir := range []string{runtimeDir(e.getenv, cfg), systemRunDir, filepath.Join(cfg.StateDir, runDirName)} {
		if st, err := bot.LoadStatus(dir); err == nil {
			return st
		}
	}
	return nil
}

// devicesLine is the devices' states in a line: "led on, fan 40%".
func devicesLine(devs []bot.DeviceState) string {
	var parts []string
	for _, d := range devs {
		parts = append(parts, d.Name+" "+d.State)
	}
	if len(parts) == 0 {
		return "no devices"
	}
	return strings.Join(parts, ", ")
}

// undriven are the outputs and pwm devices, which tweetpi do status does
// not open (opening one sets it to its initial level).
func undriven(cfg *config.Config) []string {
	var out []string
	for _, d := range cfg.Devices {
		if d.Kind == config.KindOutput || d.Kind == config.KindPWM {
			out = append(out, d.Name)
		}
	}
	return out
}
