//go:build unix

package config

import (
	"os"
	"syscall"
)

// keepOwner gives the temp file f the owner and group of the file at path,
// when it exists and they differ: a root-edited configuration stays the
// service's. It is best effort: only root may give a file away, and a
// process writing its own files keeps their owner anyway.
func keepOwner(f *os.File, path string) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return
	}
	if int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid() {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}

// syncDir fsyncs a directory, so a rename in it is on the disk. It goes to
// the system directly: the state is saved often, and an *os.File costs
// allocations a file descriptor does not.
func syncDir(dir string) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Fsync(fd)
}
