//go:build unix

package bot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in the state directory that names the pid of the
// tweetpi that holds it, and that tweetpi 1.x took its lock on.
const lockFile = ".lock"

// dirLock is the single-daemon guard of a state directory.
type dirLock struct {
	dir  *os.File // the directory itself, flocked: no file to delete
	file *os.File // dir/.lock, flocked too: what older versions lock
}

// lockStateDir keeps a second tweetpi away from the same state: two would
// take and run the same posts. It takes an exclusive flock on the
// directory itself, which no deleted file can undo, and one on dir/.lock
// (what tweetpi 1.x locks), into which it writes its pid. The kernel drops
// both when the process ends, however it ends (kill -9 too), so nothing
// stale ever blocks a start.
func lockStateDir(dir string) (*dirLock, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: lock: %w", dir, err)
	}
	path := filepath.Join(dir, lockFile)
	if err := flock(d, dir, path); err != nil {
		d.Close()
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("state_dir %s: lock: %w", dir, err)
	}
	if err := flock(f, dir, path); err != nil {
		d.Close()
		f.Close()
		return nil, err
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dirLock{dir: d, file: f}, nil
}

// flock takes an exclusive lock on f, or says who holds it.
func flock(f *os.File, dir, pidFile string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		pid := "unknown"
		if b, err := os.ReadFile(pidFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			pid = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("state_dir %s is in use by another tweetpi (pid %s): two would run the same commands; stop the other one first (systemctl stop tweetpi)",
			dir, pid)
	}
	return fmt.Errorf("state_dir %s: lock %s: %w", dir, f.Name(), err)
}

// Close lets another tweetpi use the directory.
func (l *dirLock) Close() error {
	err := l.file.Close()
	if derr := l.dir.Close(); err == nil {
		err = derr
	}
	return err
}
