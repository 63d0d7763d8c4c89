package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tweetpi/tweetpi/config"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitConfig = 78 // EX_CONFIG: bad configuration or credentials; systemd does not restart on it
)

// env is what a subcommand may touch of the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	usage   string // the arguments, after the name
	summary string
	run     func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
}

func commands() []command {
	return []command{
		{"run", "[-config F] [-log-format text|json] [-log-level L]", "the daemon: poll X and run commands (the systemd unit runs this)", cmdRun},
		{"demo", "[-api v2|v1.1] [-v]", "the whole loop against the built-in fake X API and simulated pins; no keys, no Pi", cmdDemo},
		{"check", "[-config F] [-insecure-perms]", "validate the configuration; exit 1 with every error", cmdCheck},
		{"verify", "[-config F]", "ask the API who the keys belong to and what the rate limits are", cmdVerify},
		{"auth", "[-config F] [-print]", "PIN-based OAuth: get the access token and secret for the device account", cmdAuth},
		{"do", `[-config F] "led on"`, "run one command on the pins, no network (for wiring tests)", cmdDo},
		{"safe", "[-config F] [-from-state]", "drive every output to its safe level and exit", cmdSafe},
		{"status", "[-json] [-config F]", "what the running daemon is doing: delivery, polls, limits, commands, spend, devices", cmdStatus},
		{"pins", "[-v]", "list the GPIO pins periph sees", cmdPins},
		{"version", "", "print the version", cmdVersion},
	}
}

// run is the whole program: it returns an error instead of exiting.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return usageErr("no command given")
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("tweetpi "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		usageShown := false // the flag package calls Usage on a bad flag, after saying what is wrong
		fs.Usage = func() {
			usageShown = true
			fmt.Fprintf(fs.Output(), "usage: tweetpi %s %s\n\n%s\n", c.name, c.usage, c.summary)
			var buf strings.Builder
			fs.SetOutput(&buf)
			fs.PrintDefaults()
			fs.SetOutput(stderr)
			if buf.Len() > 0 {
				fmt.Fprintf(fs.Output(), "\nflags:\n%s", buf.String())
			}
		}
		err := c.run(ctx, e, fs, args[1:])
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil
		case err != nil && usageShown:
			// The flag package has said it, with the usage: exit 2, quietly.
			return &exitError{code: exitUsage, err: err, quiet: true}
		}
		return err
	}
	names := []string{}
	for _, c := range commands() {
		names = append(names, c.name)
	}
	sort.Strings(names)
	if best := config.Nearest(args[0], names); best != "" {
		return usageErr(fmt.Sprintf("unknown command %q; did you mean %s? (tweetpi -h lists the commands)", args[0], best))
	}
	return usageErr(fmt.Sprintf("unknown command %q; the commands are %s (tweetpi -h for more)", args[0], strings.Join(names, ", ")))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "tweetpi runs a device from X: posts like \"@mypi led on\" become GPIO actions.\n\nusage: tweetpi <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\n\"tweetpi <command> -h\" shows a command's flags.\n")
}

// exitError carries an exit status. A quiet one has been said already.
type exitError struct {
	code  int
	err   error
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(msg string) error { return &exitError{code: exitUsage, err: errors.New(msg)} }

// configErr marks err as a configuration or credential problem: exit 78.
func configErr(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitConfig, err: err}
}

// exitCode prints err (if any) and returns the status to exit with.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.quiet {
		return ee.code
	}
	fmt.Fprintf(stderr, "tweetpi: %v\n", err)
	if ee != nil {
		return ee.code
	}
	var ce config.Errors
	if errors.As(err, &ce) {
		return exitConfig
	}
	return exitFail
}
