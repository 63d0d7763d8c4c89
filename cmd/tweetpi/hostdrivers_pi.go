//go:build (arm || arm64) && !allboards

package main

import (
	_ "periph.io/x/host/v3/bcm283x"
	_ "periph.io/x/host/v3/rpi"
)
