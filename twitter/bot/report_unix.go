//go:build unix

package bot

import (
	"errors"
	"path/filepath"
	"syscall"
)

// inMemory reports whether dir (or, while it does not exist, the nearest
// directory above it) is on a tmpfs or ramfs: writes there cost no flash.
func inMemory(dir string) bool {
	const tmpfsMagic, ramfsMagic = 0x01021994, 0x858458f6
	var st syscall.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if err := syscall.Statfs(d, &st); err == nil {
			return uint32(st.Type) == tmpfsMagic || uint32(st.Type) == ramfsMagic
		}
		if d == filepath.Dir(d) {
			return false
		}
	}
}

// processAlive reports whether a process with pid exists (it may be
// another user's: EPERM).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
