package pipeline

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestLockExcludesAndIsReleasedByDeath(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()

	// A process that takes the lock and is killed must not leave it held.
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	cmd := exec.Command("flock", "-o", dir+"/lock", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := AcquireLock(dir)
		if errors.Is(err, ErrLocked) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		l.Release() // raced ahead of the child; let it take the lock
		if time.Now().After(deadline) {
			t.Fatal("child never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Kill)
	cmd.Wait()
	l2, err := AcquireLock(dir)
	if err != nil {
		t.Fatalf("lock of a killed process not taken over: %v", err)
	}
	l2.Release()
}
