package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/pin"
	"periph.io/x/host/v3/sysfs"
)

// cmdPins lists the pins periph sees. It never reads a pin: periph's
// gpio-cdev driver turns a line it reads into a pulled-up input, which
// would disturb a running daemon's outputs. The level shows where the
// driver reports it in the function (In/High, Out/Low).
func cmdPins(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	verbose := fs.Bool("v", false, "log which periph drivers loaded, were skipped or failed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("pins takes no arguments")
	}
	if err := initPeriph(cmdLogger(e.stderr, *verbose)); err != nil {
		return err
	}
	all := gpioreg.All()
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "periph sees no GPIO pins on this machine (tweetpi pins -v shows the drivers)")
		return nil
	}
	sort.SliceStable(all, func(i, j int) bool { return naturalLess(all[i].Name(), all[j].Name()) })
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tNUMBER\tFUNCTION\tLEVEL")
	for _, p := range all {
		fn := "(not queried: sysfs)"
		if _, ok := p.(*sysfs.Pin); !ok {
			// periph's sysfs pins export the line to answer Function and
			// never unexport it, leaving it busy for the daemon.
			fn = pinFunction(p)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name(), p.Number(), dash(fn), levelOf(fn))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if al := gpioreg.Aliases(); len(al) > 0 {
		var names []string
		for _, a := range al {
			names = append(names, a.Name()+"="+a.String())
		}
		sort.Strings(names)
		fmt.Fprintf(e.stdout, "\naliases: %s\n", strings.Join(names, ", "))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// levelOf takes the level from a function like "In/High" or "Out/Low".
func levelOf(fn string) string {
	switch {
	case strings.HasSuffix(fn, "/High"):
		return "high"
	case strings.HasSuffix(fn, "/Low"):
		return "low"
	}
	return "-"
}

// pinFunction is what the pin is set up as ("In/High", "Out/Low", "PWM",
// "I2C1_SDA", …): from pin.PinFunc where the driver has it, else from the
// older Function.
func pinFunction(p gpio.PinIO) string {
	if pf, ok := p.(pin.PinFunc); ok {
		return string(pf.Func())
	}
	//lint:ignore SA1019 drivers without pin.PinFunc have only Function
	return p.Function()
}
