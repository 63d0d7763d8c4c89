//go:build !unix

package bot

// dirLock does nothing where there is no flock.
type dirLock struct{}

// lockStateDir does nothing where there is no flock.
func lockStateDir(dir string) (*dirLock, error) { return &dirLock{}, nil }

// Close does nothing.
func (*dirLock) Close() error { return nil }
