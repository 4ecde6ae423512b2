//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/bakehouse/bakehouse"
)

// lockDatabase takes an exclusive lock on the database at path for the
// life of the process (the lock file is path + ".lock", and holds the
// owner's pid for the error a second process gets). SQLite is one node:
// two serve processes on one data dir would each run the other's queued
// bakes' leftovers as their own, and each process's head cache assumes
// its writes are the only ones.
func lockDatabase(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path + ".lock")
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				owner = fmt.Sprintf("another process (pid %d)", pid)
			}
			return nil, &bakehouse.Error{Code: bakehouse.ECONFLICT, Field: "dataDir", Message: fmt.Sprintf(
				"the database %s is in use by %s: the embedded SQLite store serves one bakehouse process; stop the other one, give this one its own data dir (DATA_DIR), or run several nodes on PostgreSQL (--database postgres://...)", path, owner)}
		}
		return nil, fmt.Errorf("lock database %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
