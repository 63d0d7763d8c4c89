//go:build !unix

package config

import "os"

// keepOwner does nothing where files have no unix owner.
func keepOwner(f *os.File, path string) {}

// syncDir fsyncs a directory, so a rename in it is on the disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
