package procfs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
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

	// By command name, for a process a snapshot saw.
	comm, err := Comm(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   Identity
		want bool
	}{
		{Identity{PID: os.Getpid(), StartTime: st, Comms: []string{"Xorg", comm}}, true},
		{Identity{PID: os.Getpid(), StartTime: st, Comms: []string{"Xorg", "Xvnc"}}, false},
		{Identity{PID: os.Getpid(), StartTime: st + 1, Comms: []string{comm}}, false},
		{Identity{PID: os.Getpid(), StartTime: st, Exe: "/usr/sbin/xrdp", Comms: []string{comm}}, false},
		{Identity{PID: os.Getpid(), StartTime: st}, false}, // names nothing: matches nothing
	} {
		if got := c.id.Matches(); got != c.want {
			t.Errorf("%+v matches: %v; want %v", c.id, got, c.want)
		}
	}
}

func TestGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		testenv.Missing(t, "true(1) does not run: %v", err)
	}
	if _, err := StartTime(cmd.Process.Pid); err != ErrNoProcess {
		t.Errorf("StartTime of an exited, reaped process = %v; want ErrNoProcess", err)
	}
}

func TestSnapshotTree(t *testing.T) {
	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		testenv.Missing(t, "sleep(1) does not run: %v", err)
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

// TestTerminate: a process whose identity does not match is left alone; one
// that matches is ended, by SIGKILL when it ignores SIGTERM.
func TestTerminate(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' TERM; exec sleep 60") // an ignored signal stays ignored across exec
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	var id Identity
	for range 500 { // until sh has set its trap and become sleep
		st, err1 := StartTime(pid)
		exe, err2 := Exe(pid)
		if err1 == nil && err2 == nil && strings.HasSuffix(exe, "/sleep") {
			id = Identity{PID: pid, StartTime: st, Exe: exe}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id.PID == 0 {
		t.Fatal("sleep did not start")
	}
	stranger := id
	stranger.StartTime++
	if ended, err := Terminate(context.Background(), stranger, time.Second); err != nil || ended {
		t.Fatalf("Terminate of a stranger = %v, %v; want false, nil", ended, err)
	}
	select {
	case <-done:
		t.Fatal("a process of another start time was signalled")
	case <-time.After(200 * time.Millisecond):
	}
	start := time.Now()
	if ended, err := Terminate(context.Background(), id, 300*time.Millisecond); err != nil || !ended {
		t.Fatalf("Terminate = %v, %v; want true, nil", ended, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate returned but the process lives")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("ended in %s: SIGTERM should have been ignored for the grace", took)
	}
}

// TestExeOfReplacedProgram: a program whose file was replaced (a package
// upgrade) keeps its identity: Exe names its path without " (deleted)".
func TestExeOfReplacedProgram(t *testing.T) {
	dir := t.TempDir()
	prog := dir + "/xrdp"
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	id := Identity{PID: cmd.Process.Pid, StartTime: st, Exe: prog}
	if exe, err := Exe(id.PID); err != nil || exe != prog || !id.Matches() {
		t.Fatalf("after the file went: Exe = %q, %v; Matches = %v", exe, err, id.Matches())
	}
}

// TestUserNames: the host's passwd file names root, and OpenInRoot refuses
// what is not a regular file (a FIFO would block the pass that reads it).
func TestUserNames(t *testing.T) {
	if got := UserNames(0)[0]; got != "root" {
		t.Fatalf("UserNames(0)[0] = %q, want root", got)
	}
	fifo := filepath.Join(t.TempDir(), "passwd")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenInRoot(os.Getpid(), strings.TrimPrefix(fifo, "/")); err == nil {
		f.Close()
		t.Error("OpenInRoot opened a FIFO")
	}
	if f, err := OpenInRoot(os.Getpid(), "etc/passwd"); err != nil {
		t.Errorf("OpenInRoot of etc/passwd: %v", err)
	} else {
		f.Close()
	}
}
