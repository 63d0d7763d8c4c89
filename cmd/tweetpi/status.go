package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/twitter/bot"
)

// Exit statuses of tweetpi status, as an init script's status action has
// them (LSB): 0 it runs, 3 it does not, 4 it cannot be told.
const (
	exitNotRunning = 3
	exitUnknown    = 4
)

// cmdStatus prints what the running daemon is doing, from the status file
// it keeps in its runtime directory: $RUNTIME_DIRECTORY (the unit's
// /run/tweetpi), else state_dir/run.
func cmdStatus(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the status as JSON (the status file's schema, in the README)")
	cf := addConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("status takes no arguments")
	}
	dir, looked, err := statusDir(e, cf)
	if err != nil {
		return err
	}
	if dir == "" {
		return &exitError{code: exitNotRunning, err: fmt.Errorf("%w: no status file in %s; start it: sudo systemctl start tweetpi (or tweetpi run)",
			bot.ErrNoDaemon, strings.Join(looked, " or "))}
	}
	st, err := bot.LoadStatus(dir)
	switch {
	case errors.Is(err, bot.ErrNoDaemon):
		return &exitError{code: exitNotRunning, err: fmt.Errorf("%w; start it: sudo systemctl start tweetpi (or tweetpi run)", err)}
	case err != nil && st != nil:
		// It runs, but its file is old: say so, and what it said last.
		fmt.Fprintf(e.stderr, "tweetpi: %v\n", err)
		printStatus(e, st, *asJSON)
		return &exitError{code: exitUnknown, err: err, quiet: true}
	case err != nil:
		return &exitError{code: exitUnknown, err: err}
	}
	return printStatus(e, st, *asJSON)
}

func printStatus(e *env, st *bot.Status, asJSON bool) error {
	if !asJSON {
		return st.WriteText(e.stdout, time.Now())
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", data)
	return err
}

// statusDir finds the runtime directory that holds a status file: the
// environment's, the unit's, then state_dir/run of the configuration (when
// it can be read: the file is the daemon's, and may be root's alone). It
// returns "" and where it looked when there is none.
func statusDir(e *env, cf *configFlags) (dir string, looked []string, err error) {
	var dirs []string
	if d, _, _ := strings.Cut(e.getenv("RUNTIME_DIRECTORY"), ":"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, systemRunDir)
	if cfg, err := cf.load(e); err == nil {
		dirs = append(dirs, filepath.Join(cfg.StateDir, runDirName))
	} else if cf.path != "" {
		return "", nil, configErr(err) // asked for this file: say why it does not do
	}
	for _, d := range dirs {
		if slices.Contains(looked, d) {
			continue
		}
		looked = append(looked, d)
		_, err := os.Stat(filepath.Join(d, bot.StatusFile))
		switch {
		case err == nil:
			return d, looked, nil
		case errors.Is(err, fs.ErrPermission):
			return "", looked, &exitError{code: exitUnknown, err: fmt.Errorf("%s: %w; run tweetpi status as the daemon's user or root", d, err)}
		}
	}
	return "", looked, nil
}
