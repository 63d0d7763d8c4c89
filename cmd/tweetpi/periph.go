package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/driver"
	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// maxListed is how many pin names an unknown-pin error lists.
const maxListed = 24

// initPeriph loads periph's host drivers (host.Init does it once per
// process) and logs the ones that failed: a missing /dev/gpiomem or a user
// outside group gpio shows up here.
func initPeriph(logger *slog.Logger) error {
	state, err := hostInit()
	if err != nil {
		return fmt.Errorf("periph host drivers: %w", err)
	}
	logDrivers(logger, state)
	return nil
}

// logDrivers logs what periph's drivers did. A failure is a warning, but for
// the legacy sysfs GPIO interface when the GPIO character devices loaded:
// they serve the pins, and the hardened unit's user cannot (and need not)
// write /sys/class/gpio/export.
func logDrivers(logger *slog.Logger, state *driverreg.State) {
	cdev := slices.ContainsFunc(state.Loaded, func(d driver.Impl) bool { return d.String() == "ioctl-gpio" })
	for _, f := range state.Failed {
		if cdev && f.D.String() == "sysfs-gpio" {
			logger.Debug("periph driver failed to load; the GPIO character devices serve instead", "driver", f.D.String(), "err", f.Err)
			continue
		}
		logger.Warn("periph driver failed to load", "driver", f.D.String(), "err", f.Err)
	}
	for _, f := range state.Skipped {
		logger.Debug("periph driver skipped", "driver", f.D.String(), "err", f.Err)
	}
	for _, d := range state.Loaded {
		logger.Debug("periph driver loaded", "driver", d.String())
	}
}

// periphPins is the real pins' source: periph's registry after host.Init.
func periphPins(logger *slog.Logger) (device.PinSource, error) {
	if err := initPeriph(logger); err != nil {
		return nil, err
	}
	return func(name string) (gpio.PinIO, error) {
		if p := gpioreg.ByName(name); p != nil {
			return p, nil
		}
		return nil, unknownPin(name, pinNames())
	}, nil
}

// pinNames are the names periph knows, aliases included, in natural order.
func pinNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range append(gpioreg.All(), gpioreg.Aliases()...) {
		if n := p.Name(); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return names
}

func unknownPin(name string, known []string) error {
	if len(known) == 0 {
		return fmt.Errorf("periph knows no GPIO pin on this machine (tweetpi pins -v shows which drivers failed; on a Pi check /dev/gpiochip0 and group gpio); to try tweetpi without a Pi set gpio: {backend: sim}")
	}
	list := known
	more := ""
	if len(list) > maxListed {
		more = fmt.Sprintf(" and %d more", len(list)-maxListed)
		list = list[:maxListed]
	}
	return fmt.Errorf("periph has no pin %q; it knows %s%s; set the device's pin to one of them (tweetpi pins lists them all)", name, strings.Join(list, ", "), more)
}

// naturalLess orders GPIO2 before GPIO10.
func naturalLess(a, b string) bool {
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	if pa != pb || na < 0 || nb < 0 {
		if pa == pb {
			return a < b
		}
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

// pinSource chooses the pins the configuration asks for: periph's real
// pins, or a Sim (returned too, so its pins can be shown).
func pinSource(cfg *config.Config, logger *slog.Logger) (device.PinSource, *device.Sim, error) {
	switch cfg.GPIO.Backend {
	case config.BackendSim:
		sim := device.NewSim()
		return sim.Pin, sim, nil
	case config.BackendPeriph, "":
		pins, err := periphPins(logger)
		return pins, nil, err
	}
	return nil, nil, configErr(errors.New("gpio.backend " + strconv.Quote(cfg.GPIO.Backend) + ": use periph or sim"))
}
