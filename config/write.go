package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data, atomically: a temp file in
// the same directory (.NAME.tmp-*) with mode perm and, when path exists,
// the old file's owner and group (where this process may set them), written
// and fsynced, renamed over path, then the directory fsynced. A crash at any
// point leaves the old file or the new one, never a torn one, and perhaps a
// temp file, which RemoveTemp clears. Every error is returned, the
// directory's fsync too: without it the rename may not outlive a power cut.
//
// It is the one writer of tweetpi's files: state.json, the configuration
// (tweetpi auth) and devices.json.
func WriteFile(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return writeErr(path, "create a temp file", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return writeErr(path, "chmod", err)
	}
	keepOwner(f, path)
	if _, err = f.Write(data); err != nil {
		return writeErr(path, "write", err)
	}
	if err = f.Sync(); err != nil {
		return writeErr(path, "fsync", err)
	}
	if err = f.Close(); err != nil {
		return writeErr(path, "close", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return writeErr(path, "rename the temp file over it", err)
	}
	if err = syncDir(dir); err != nil {
		return writeErr(path, "fsync the directory", err)
	}
	return nil
}

// writeErr names the file and the step once: the *fs.PathError or
// *os.LinkError inside would name the temp file again.
func writeErr(path, step string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write %s: %s: %w", path, step, err)
}

// RemoveTemp removes the temp files WriteFile leaves for path when a crash
// cuts a write short (a SIGKILL between the temp file's creation and its
// rename), and those of older tweetpi versions (.NAME.tmp*). They are never
// read. Call it where the program is path's only writer: the daemon, which
// holds the state directory's lock, for state.json and devices.json; tweetpi
// auth for the configuration. It returns the files it removed.
func RemoveTemp(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	left, err := filepath.Glob(filepath.Join(dir, "."+base+".tmp*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var firstErr error
	for _, f := range left {
		if err := os.Remove(f); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		removed = append(removed, f)
	}
	return removed, firstErr
}
