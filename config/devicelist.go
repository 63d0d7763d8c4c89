package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// DeviceListFile is the file in the state directory where the daemon keeps
// the devices it drives, for `tweetpi safe -from-state`: the unit's
// ExecStopPost runs without the configuration's credential.
const DeviceListFile = "devices.json"

// deviceList is the content of DeviceListFile.
type deviceList struct {
	Backend string   `json:"backend"`
	Devices []Device `json:"devices"`
}

// WriteDeviceList keeps devs and the pin backend in dir's DeviceListFile
// (WriteFile: atomic, mode 0600), creating dir (mode 0700) if need be.
func WriteDeviceList(dir, backend string, devs []Device) error {
	data, err := json.MarshalIndent(deviceList{backend, devs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, DeviceListFile), append(data, '\n'), 0o600)
}

// ReadDeviceList reads dir's DeviceListFile into a configuration that holds
// only the pin backend and the devices, and returns the file's path too.
// A missing file is an error that wraps fs.ErrNotExist.
func ReadDeviceList(dir string) (*Config, string, error) {
	path := filepath.Join(dir, DeviceListFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	var l deviceList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, path, fmt.Errorf("%s: %w", path, err)
	}
	return &Config{GPIO: GPIO{Backend: l.Backend}, Devices: l.Devices}, path, nil
}
