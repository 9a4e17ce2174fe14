package procfs

import (
	"os"
	"os/exec"
	"testing"
)

func TestSelf(t *testing.T) {
	st, err := StartTime(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("StartTime = %d, %v", st, err)
	}
	exe, err := Exe(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if exe != self {
		t.Errorf("Exe = %q; want %q", exe, self)
	}
	id := Identity{PID: os.Getpid(), StartTime: st, Exe: exe}
	if !id.Matches() {
		t.Error("own identity does not match")
	}
	id.StartTime++
	if id.Matches() {
		t.Error("a different start time must not match (pid reuse)")
	}
}

func TestGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1)")
	}
	if _, err := StartTime(cmd.Process.Pid); err != ErrNoProcess {
		t.Errorf("StartTime of an exited, reaped process = %v; want ErrNoProcess", err)
	}
}
