//go:build allboards

package main

import (
	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/host/v3"
)

// hostInit loads every host driver periph.io/x/host has (-tags allboards).
func hostInit() (*driverreg.State, error) { return host.Init() }
