//go:build !allboards

package main

// The periph host drivers tweetpi loads: the Raspberry Pi's (bcm283x, rpi;
// hostdrivers_pi.go) and the generic Linux ones that serve any board: the
// GPIO character devices (gpioioctl), sysfs (I2C buses, the legacy GPIO
// interface, the thermal zones) and netlink (the kernel's 1-Wire bus).
// Other boards' own drivers (Allwinner, BeagleBone, C.H.I.P., ODROID-C1,
// Pine64) are left out of the default build, which keeps the armv6 binary
// inside its 9 MiB budget; their GPIOs still work through the character
// devices. `go build -tags allboards` loads every driver periph.io/x/host
// has, as host.Init does.

import (
	"periph.io/x/conn/v3/driver/driverreg"
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/netlink"
	_ "periph.io/x/host/v3/sysfs"
)

// hostInit loads the host drivers, once per process (driverreg.Init's
// promise).
func hostInit() (*driverreg.State, error) { return driverreg.Init() }
