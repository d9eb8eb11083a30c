package pipeline

import (
	"bufio"
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

	// Another process takes the lock and is killed: the lock must not stay held.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "LLMTUNE_LOCK_CHILD="+dir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		t.Fatalf("child said %q", line)
	}
	_, err = AcquireLock(dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by another process not detected: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l2, err := AcquireLock(dir)
	if err != nil {
		t.Fatalf("lock of a killed process not taken over: %v", err)
	}
	l2.Release()
}

// TestLockHelperProcess is the child of the test above, not a test itself.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("LLMTUNE_LOCK_CHILD")
	if dir == "" {
		t.Skip("helper process for TestLockExcludesAndIsReleasedByDeath")
	}
	if _, err := AcquireLock(dir); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}
