package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked means another run holds the workdir's lock.
var ErrLocked = errors.New("another llmtune run is in progress")

// Lock is an exclusive flock on workdir/lock. The kernel drops a flock when
// its holder dies, however it dies, so a lock left by a killed run is taken
// over by the next one without any staleness guess.
type Lock struct{ f *os.File }

// AcquireLock takes the lock without waiting.
func AcquireLock(workdir string) (*Lock, error) {
	p := filepath.Join(workdir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s holds %s)", ErrLocked, describeHolder(string(holder)), p)
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	f.Sync()
	return &Lock{f: f}, nil
}

func describeHolder(s string) string {
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return "another process"
	}
	if _, err := strconv.Atoi(fields[0]); err != nil {
		return "another process"
	}
	return "pid " + fields[0] + " since " + fields[1]
}

// Release drops the lock.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
