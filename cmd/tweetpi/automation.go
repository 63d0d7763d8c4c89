package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewirereg"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// The wiring of interlocks, schedules and sensors: the device options a
// configuration gives, the sensors' buses (periph's, or the Sim's), and
// the scheduler of each board the daemon opens.

// deviceOptions are the board options of cfg: its interlocks, schedules
// and the buses its sensors need, on sim when it is not nil.
func deviceOptions(cfg *config.Config, sim *device.Sim, logger *slog.Logger) device.Options {
	opt := device.Options{
		Logger:        logger,
		Interlocks:    cfg.Interlocks,
		InterlockWait: cfg.InterlockWait,
		Schedules:     cfg.Schedules,
	}
	if sim != nil {
		opt.I2C, opt.OneWire = sim.I2C, sim.OneWire
	} else {
		opt.I2C, opt.OneWire = periphI2C, periphOneWire
	}
	return opt
}

// periphI2C opens an I2C bus through periph's registry (its sysfs driver
// registers /dev/i2c-N as bus N at host.Init).
func periphI2C(bus string) (i2c.BusCloser, error) {
	if _, err := hostInit(); err != nil {
		return nil, fmt.Errorf("periph host drivers: %w", err)
	}
	if len(i2creg.All()) == 0 {
		return nil, errors.New("this machine has no I2C bus (no /dev/i2c-*)")
	}
	return i2creg.Open(bus)
}

// periphOneWire opens a 1-Wire bus master of the kernel's w1 subsystem
// through periph's netlink driver: "" the first, or w1_bus_masterN's N.
func periphOneWire(bus string) (onewire.BusCloser, error) {
	state, err := hostInit()
	if err != nil {
		return nil, fmt.Errorf("periph host drivers: %w", err)
	}
	if len(onewirereg.All()) == 0 {
		for _, f := range state.Failed {
			if f.D.String() == "netlink-onewire" {
				return nil, fmt.Errorf("the kernel has no 1-Wire bus master (%v)", f.Err)
			}
		}
		return nil, errors.New("the kernel has no 1-Wire bus master (/sys/bus/w1/devices is empty)")
	}
	return onewirereg.Open(bus)
}

// automate runs b's schedules until the board closes (a reload closes it
// and opens another, which gets its own).
func (d *daemon) automate(b *device.Board) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := b.RunSchedules(context.Background()); err != nil {
			d.log.Error("schedules stopped", "err", err)
		}
	}()
}

// loadChecked is cf.load and the device package's checks of what config
// cannot check alone (the schedules' times and commands).
func (cf *configFlags) loadChecked(e *env) (*config.Config, error) {
	cfg, err := cf.load(e)
	if err != nil {
		return nil, err
	}
	if err := device.CheckConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// doDevices are the devices `tweetpi do` opens for acts: the ones named
// and the others of their interlock groups (which must be off first), the
// inputs and sensors for status, every output and pwm for all off.
func doDevices(acts []device.Action, cfg *config.Config) []config.Device {
	named := map[string]bool{}
	status, all := false, false
	for _, a := range acts {
		switch a.Verb {
		case device.VerbStatus, device.VerbHelp:
			status = true
		case device.VerbAllOff:
			all = true
		}
		named[a.Device] = true
		for _, g := range cfg.Interlocks {
			if slices.Contains(g, a.Device) {
				for _, n := range g {
					named[n] = true
				}
			}
		}
	}
	var out []config.Device
	for _, d := range cfg.Devices {
		switch {
		case named[d.Name],
			status && (d.Kind == config.KindInput || config.IsSensor(d.Kind)),
			all && (d.Kind == config.KindOutput || d.Kind == config.KindPWM):
			out = append(out, d)
		}
	}
	return out
}

// doOptions are deviceOptions for `tweetpi do`'s devs: the interlock
// groups among them, no schedules (do runs one command).
func doOptions(cfg *config.Config, devs []config.Device, sim *device.Sim, logger *slog.Logger) device.Options {
	opt := deviceOptions(cfg, sim, logger)
	opt.Schedules = nil
	opt.Interlocks = nil
	for _, g := range cfg.Interlocks {
		if slices.ContainsFunc(devs, func(d config.Device) bool { return d.Name == g[0] }) {
			opt.Interlocks = append(opt.Interlocks, g)
		}
	}
	return opt
}

// deviceSummary is a device for tweetpi check's line: "led output GPIO17",
// "tank ds18b20 28-00000a1b2c3d", "room bme280 i2c-1 0x76".
func deviceSummary(d config.Device) string {
	if d.Remote() {
		return d.Name + " " + d.NodeDevice + " on " + d.Node // "garden_pump pump on garden"
	}
	switch d.Kind {
	case config.KindDS18B20:
		return d.Name + " " + d.Kind + " " + d.Address
	case config.KindBME280, config.KindAHT20:
		return d.Name + " " + d.Kind + " i2c-" + d.Bus + " " + d.Address
	}
	return d.Name + " " + d.Kind + " " + d.Pin
}

// automationSummary is what check says of the interlocks and schedules:
// "; interlocks: heater/cooler (500ms); 2 schedules", or "".
func automationSummary(c *config.Config) string {
	var b strings.Builder
	if len(c.Interlocks) > 0 {
		groups := make([]string, len(c.Interlocks))
		for i, g := range c.Interlocks {
			groups[i] = strings.Join(g, "/")
		}
		fmt.Fprintf(&b, "; interlocks: %s (%s)", strings.Join(groups, ", "), c.InterlockWait)
	}
	switch n := len(c.Schedules); n {
	case 0:
	case 1:
		b.WriteString("; 1 schedule")
	default:
		fmt.Fprintf(&b, "; %d schedules", n)
	}
	return b.String()
}
