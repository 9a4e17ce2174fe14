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

func TestSnapshotTree(t *testing.T) {
	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		t.Skip("no sleep(1)")
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	snap, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := snap.Get(os.Getpid())
	if self.PID != os.Getpid() || self.RSSPages == 0 {
		t.Fatalf("own stat = %+v", self)
	}
	found := false
	for _, s := range snap.Tree(os.Getpid()) {
		if s.PID == child.Process.Pid {
			found = true
		}
	}
	if !found {
		t.Error("Tree misses a child")
	}
}
