//go:build !unix

package twitter

import "os"

// lockStateDir does nothing where there is no flock.
func lockStateDir(dir string) (*os.File, error) { return nil, nil }
