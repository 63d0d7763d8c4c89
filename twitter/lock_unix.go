//go:build unix

package twitter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the lock in the state directory that keeps a second tweetpi
// away from the same state: two would take and run the same posts.
const lockFile = ".lock"

// lockStateDir takes an exclusive flock on dir/.lock and writes the pid
// into it. The kernel drops the lock when the process ends, however it
// ends (kill -9 too), so a stale lock file never blocks a start.
func lockStateDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			return nil, fmt.Errorf("state_dir %s is in use by another tweetpi (pid %s): two would run the same commands; stop the other one first (systemctl stop tweetpi)",
				dir, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("state_dir %s: lock %s: %w", dir, path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}
