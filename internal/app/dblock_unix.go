//go:build unix

package app

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockChecked says whether lockDatabase can see other processes here.
const lockChecked = true

// lockDatabase takes an advisory flock on the SQLite file path (created if
// missing), shared for the processes that use the database (serve) and
// exclusive for restore, which so refuses while one runs. SQLite's own
// locks are fcntl locks, which flock does not touch; the descriptor stays
// open until unlock, after the store is closed. ok is false when another
// process holds a conflicting lock.
func lockDatabase(path string, exclusive bool) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, true, nil
}
