package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"periph.io/x/conn/v3/driver"
	"periph.io/x/conn/v3/driver/driverreg"
)

type fakeDriver string

func (d fakeDriver) String() string          { return string(d) }
func (d fakeDriver) Prerequisites() []string { return nil }
func (d fakeDriver) After() []string         { return nil }
func (d fakeDriver) Init() (bool, error)     { return true, nil }

// TestLogDrivers: under the hardened unit the legacy sysfs GPIO driver
// fails (its user cannot write /sys/class/gpio/export) while the GPIO
// character devices serve the pins; that must not be a warning at every
// start. Without the character devices it is one: no pin would work.
func TestLogDrivers(t *testing.T) {
	denied := driverreg.DriverFailure{D: fakeDriver("sysfs-gpio"), Err: errors.New("need more access")}
	for _, tc := range []struct {
		name   string
		state  driverreg.State
		warned bool
	}{
		{"chardev loaded", driverreg.State{Loaded: []driver.Impl{fakeDriver("ioctl-gpio")}, Failed: []driverreg.DriverFailure{denied}}, false},
		{"no chardev", driverreg.State{Failed: []driverreg.DriverFailure{denied}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			logDrivers(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &tc.state)
			warned := strings.Contains(b.String(), "level=WARN")
			if warned != tc.warned || !strings.Contains(b.String(), "sysfs-gpio") {
				t.Errorf("warned %v, want %v; log:\n%s", warned, tc.warned, b.String())
			}
		})
	}
}
