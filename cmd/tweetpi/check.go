package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/tweetpi/tweetpi/config"
)

// cmdCheck validates the configuration. It prints one line that sums it up
// and exits 0, or returns every problem and exits 1 (not 78: nothing is
// being supervised here). A missing key is a warning on that line, since
// the commands that work the pins alone need none. It never prints a key.
func cmdCheck(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("check takes no arguments (got %q); name the file with -config", fs.Arg(0)))
	}
	cfg, err := cf.loadChecked(e)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	fmt.Fprintln(e.stdout, checkSummary(cfg))
	for _, w := range checkWarnings(cfg) {
		fmt.Fprintf(e.stderr, "tweetpi check: warning: %s\n", w)
	}
	return nil
}

// checkSummary is the one line check prints for a good configuration, e.g.
//
//	config.yaml: ok: 2 devices (led output GPIO17, door input GPIO22); listens to mentions via API v2; keys: all 4 set (2 env, 2 file)
func checkSummary(c *config.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ok: ", c.Path)
	switch len(c.Devices) {
	case 0:
		b.WriteString("no devices")
	case 1:
		b.WriteString("1 device")
	default:
		fmt.Fprintf(&b, "%d devices", len(c.Devices))
	}
	if len(c.Devices) > 0 {
		if c.GPIO.Backend == config.BackendSim {
			b.WriteString(" on simulated pins")
		}
		devs := make([]string, len(c.Devices))
		for i, d := range c.Devices {
			devs[i] = deviceSummary(d)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(devs, ", "))
	}
	b.WriteString(automationSummary(c))
	b.WriteString(fleetSummary(c))
	if c.Agent() {
		fmt.Fprintf(&b, "; mqtt: %s", c.MQTT)
		return b.String()
	}
	fmt.Fprintf(&b, "; listens to %s via API %s", strings.Join(c.Twitter.Listen, ", "), c.Twitter.API)
	if c.Twitter.APIURL != "" {
		fmt.Fprintf(&b, " at %s", c.Twitter.APIURL)
	}
	if len(c.Twitter.Allow) == 0 {
		b.WriteString("; nobody can command it yet (twitter.allow is empty)")
	}
	b.WriteString("; keys: ")
	missing := c.Twitter.MissingKeys()
	if len(missing) == 0 {
		b.WriteString("all 4 set (")
	} else {
		fmt.Fprintf(&b, "missing %s (tweetpi run needs them", strings.Join(missing, ", "))
		if len(missing) < 4 {
			b.WriteString("; ")
		}
	}
	// Count the sources by kind, in a fixed order: env, file, inline.
	counts := map[string]int{}
	for _, src := range c.Twitter.KeySources {
		kind, _, _ := strings.Cut(src, " ")
		counts[kind]++
	}
	var parts []string
	for _, kind := range []string{"env", "file", "inline"} {
		if counts[kind] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[kind], kind))
		}
	}
	if len(missing) > 0 && len(parts) > 0 {
		b.WriteString("set: ")
	}
	b.WriteString(strings.Join(parts, ", "))
	b.WriteString(")")
	if c.MQTT != nil {
		fmt.Fprintf(&b, "; mqtt: %s", c.MQTT)
	}
	return b.String()
}

// allowed says, for the daemon's start line, who may command the device.
func allowed(c *config.Config) string {
	if len(c.Twitter.Allow) == 0 {
		return "nobody can command it yet: twitter.allow is empty; add your @handle or user id and reload"
	}
	return fmt.Sprintf("%d handles or ids", len(c.Twitter.Allow))
}

// checkWarnings are things that load but are likely not what was meant.
func checkWarnings(c *config.Config) []string {
	out := c.Warnings()
	if len(c.Devices) == 0 {
		out = append(out, "no devices: add some under devices: (see config.example.yaml)")
	} else if c.GPIO.Backend == config.BackendPeriph && len(boardPins()) == 0 {
		out = append(out, "the pin names are checked for their form only: periph sees no GPIO pins on this machine (run tweetpi check on the board to check them against its pins)")
	}
	if len(c.Twitter.Allow) == 0 && !c.Agent() {
		out = append(out, `twitter.allow is empty, so nobody can command the device; add your own @handle or numeric user id to it, in quotes, like allow: ["@handle"]`)
	}
	return out
}
