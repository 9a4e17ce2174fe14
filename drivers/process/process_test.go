package process

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/drivers/xrdpconf"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

func TestRenderXrdpINI(t *testing.T) {
	c := drivers.Config{Address: "127.0.0.1", Port: 13389, SecurityLayer: "tls", Certificate: "/c.pem", Key: "/k.pem"}
	ini := string(xrdpconf.XrdpINI("desk-1", xrdpconf.ListenURL(c.Address, c.Port), c, c.Certificate, c.Key, "/state/desk-1/xrdp.log"))
	for _, want := range []string{
		"\nport=tcp://127.0.0.1:13389\n", "\nsecurity_layer=tls\n", "\ncertificate=/c.pem\n",
		"\nkey_file=/k.pem\n", "\nLogFile=/state/desk-1/xrdp.log\n", "\nEnableSyslog=false\n", "\nfork=true\n",
	} {
		if !strings.Contains(ini, want) {
			t.Errorf("xrdp.ini lacks %q", strings.TrimSpace(want))
		}
	}
	if got := xrdpconf.ListenURL("::1", 3389); got != "tcp6://[::1]:3389" {
		t.Errorf("IPv6 listen = %q", got)
	}
}

// realXrdp skips (or fails under CI=true) without xrdp and root.
func realXrdp(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/xrdp"); err != nil {
		testenv.Missing(t, "xrdp is not installed")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the driver tests need root")
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestStartListStop drives the driver against real xrdp.
func TestStartListStop(t *testing.T) {
	realXrdp(t)
	ctx := context.Background()
	d := New(t.TempDir(), nil)
	want := drivers.Desired{Name: "t1", Config: drivers.Config{Driver: Name, Address: "127.0.0.1", Port: freePort(t), SecurityLayer: "negotiate"}, Settings: drivers.Settings{MaxSessions: 2}}
	in, err := d.Start(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(ctx, "t1", time.Second, true) })
	if in.State != drivers.StateRunning || in.Hash != want.Config.Hash() {
		t.Errorf("instance = %+v", in)
	}
	if err := rdpprobe.Probe(ctx, "127.0.0.1", want.Config.Port); err != nil {
		t.Fatalf("not answering RDP: %v", err)
	}
	if _, err := d.Start(ctx, want); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start: %v", err)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].State != drivers.StateRunning {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// The server has its own sesman, on its own port, with the spec's limit.
	r, err := d.readRecord("t1")
	if err != nil || r.Sesman == nil || !r.Sesman.Matches() || r.SesmanPort < hostslots.SesmanPortFirst || r.DisplayOffset < hostslots.DisplayFirst {
		t.Fatalf("record = %+v, %v; want a live sesman of its own", r, err)
	}
	sesman := *r.Sesman
	ini := filepath.Join(d.dir("t1"), "sesman.ini")
	iniHas := func(want string) bool {
		b, _ := os.ReadFile(ini)
		return strings.Contains(string(b), "\n"+want+"\n")
	}
	if !iniHas(fmt.Sprintf("ListenPort=%d", r.SesmanPort)) || !iniHas("MaxSessions=2") {
		t.Errorf("sesman.ini does not carry the port and limit")
	}

	// An update rewrites sesman.ini and the same sesman reloads it.
	want.Settings.MaxSessions = 5
	if err := d.Update(ctx, want); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.List(ctx); list[0].Settings.MaxSessions != 5 {
		t.Errorf("Update not recorded: %+v", list[0].Settings)
	}
	if !iniHas("MaxSessions=5") {
		t.Error("Update did not reach sesman.ini")
	}
	waitForLog(t, filepath.Join(d.dir("t1"), "xrdp-sesman.log"), "configuration reloaded")

	// Stop without forget stops the listener only; its sesman goes on.
	if err := d.Stop(ctx, "t1", time.Second, false); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.List(ctx); len(list) != 1 || list[0].State != drivers.StateExited || !strings.Contains(list[0].Detail, "exited") {
		t.Errorf("after Stop: %+v", list)
	}
	if err := rdpprobe.Probe(ctx, "127.0.0.1", want.Config.Port); err == nil {
		t.Error("still answering after Stop")
	}
	if !sesman.Matches() {
		t.Fatal("stopping the listener stopped the sesman")
	}
	// A new start keeps that sesman.
	if _, err := d.Start(ctx, want); err != nil {
		t.Fatal(err)
	}
	if r2, _ := d.readRecord("t1"); r2.Sesman == nil || !reflect.DeepEqual(*r2.Sesman, sesman) || r2.SesmanPort != r.SesmanPort {
		t.Errorf("restart did not keep the sesman: %+v", r2)
	}
	// Forget stops both.
	if err := d.Stop(ctx, "t1", time.Second, true); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.List(ctx); len(list) != 0 {
		t.Errorf("forgotten server still listed: %+v", list)
	}
	if sesman.Matches() {
		t.Error("forgetting the server left its sesman running")
	}
}

// waitForLog waits until file contains text.
func waitForLog(t *testing.T, file, text string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(file); strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(file)
			t.Fatalf("%s never said %q:\n%s", file, text, b)
		}
	}
}

// TestStartFailureSaysWhy: a port taken since the plan fails the start at once,
// naming the port and its holder, and xrdp is not started.
func TestStartFailureSaysWhy(t *testing.T) {
	realXrdp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := New(t.TempDir(), nil)
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = d.Start(context.Background(), drivers.Desired{Name: "busy", Config: drivers.Config{Driver: Name, Address: "127.0.0.1", Port: port, SecurityLayer: "negotiate"}})
	if err == nil || !strings.Contains(err.Error(), "busy") || !strings.Contains(err.Error(), fmt.Sprintf("port %d", port)) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("err = %v; want a failure naming the server, the port and its holder", err)
	}
	if list, _ := d.List(context.Background()); len(list) == 1 && list[0].State == drivers.StateRunning {
		t.Error("a failed start is listed as running")
	}
}

// TestPidReuseIsNeverSignalled: a record whose pid now belongs to another
// process (different start time) is reported exited, and Stop leaves that
// process alone.
func TestPidReuseIsNeverSignalled(t *testing.T) {
	// The stranger is a program called xrdp, so that only the start time
	// tells the "old-start" record from it.
	sleep, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "xrdp")
	if err := os.WriteFile(fake, sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	stranger := exec.Command(fake, "30")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stranger.Process.Kill(); _ = stranger.Wait() }()
	pid := stranger.Process.Pid
	st, err := procfs.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := procfs.Exe(pid)
	// A second stranger that is not xrdp, for a record planted to name it.
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	otherSt, err := procfs.StartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	otherExe, _ := procfs.Exe(other.Process.Pid)

	d := New(t.TempDir(), nil)
	for name, id := range map[string]procfs.Identity{
		"old-start": {PID: pid, StartTime: st - 1, Exe: exe},                     // same pid and program, older process
		"other-exe": {PID: pid, StartTime: st, Exe: "/usr/sbin/xrdp"},            // same pid and time, other program
		"planted":   {PID: other.Process.Pid, StartTime: otherSt, Exe: otherExe}, // a record naming a program that is not xrdp, exactly
	} {
		if err := os.MkdirAll(d.dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(record{Format: recordFormat, Name: name, Identity: id})
		if err := os.WriteFile(filepath.Join(d.dir(name), "record.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list, err := d.List(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v; want the two xrdp records, not the planted one", list, err)
	}
	for _, in := range list {
		if in.State != drivers.StateExited {
			t.Errorf("%s: state %s; a reused pid is not ours", in.Name, in.State)
		}
		if err := d.Stop(context.Background(), in.Name, 100*time.Millisecond, true); err != nil {
			t.Errorf("Stop %s: %v", in.Name, err)
		}
	}
	if err := d.Stop(context.Background(), "planted", 100*time.Millisecond, true); err == nil {
		t.Error("Stop of a record naming a program that is not xrdp succeeded")
	}
	// The stranger must still be the same live process: a signalled one would
	// be a zombie (it is our child), which kill(pid, 0) still finds.
	if now, err := procfs.StartTime(pid); err != nil || now != st {
		t.Fatalf("the stranger was signalled: start time %d, %v", now, err)
	}
	if now, err := procfs.StartTime(other.Process.Pid); err != nil || now != otherSt {
		t.Fatalf("the stranger a planted record names was signalled: start time %d, %v", now, err)
	}
}

// TestNotifyOnExit: a listener's death is reported at once through its pidfd,
// also for a listener adopted by List rather than started by this driver.
func TestNotifyOnExit(t *testing.T) {
	realXrdp(t)
	for _, role := range []string{roleListener, roleSesman} {
		t.Run(role, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			starter := New(dir, nil)
			want := drivers.Desired{Name: "n1", Config: drivers.Config{Driver: Name, Address: "127.0.0.1", Port: freePort(t), SecurityLayer: "negotiate"}}
			if _, err := starter.Start(ctx, want); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = starter.Stop(context.Background(), "n1", time.Second, true) })

			adopter := New(dir, nil) // as a restarted agent would be
			events := adopter.Notify(ctx)
			if list, err := adopter.List(ctx); err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v", list, err)
			}
			r := starter.mustRecord(t, "n1")
			pid := r.PID
			if role == roleSesman {
				pid = r.Sesman.PID
			}
			killed := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case name := <-events:
				if name != "n1" {
					t.Errorf("event for %q", name)
				}
				t.Logf("exit seen %v after kill -9", time.Since(killed))
			case <-time.After(2 * time.Second):
				t.Fatal("no exit event within 2s")
			}
			if list, _ := adopter.List(ctx); list[0].State != drivers.StateExited {
				t.Errorf("after the %s died: %+v", role, list[0])
			}
			cancel()
			for range events { // the channel closes with ctx
			}
		})
	}
}

func (d *Driver) mustRecord(t *testing.T, name string) *record {
	t.Helper()
	r, err := d.readRecord(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInstanceNeedsItsSesman: a live listener is a running server only with a
// live sesman of its own, or with a warning when it shares the host's.
func TestInstanceNeedsItsSesman(t *testing.T) {
	self := procfs.Identity{PID: os.Getpid()}
	self.StartTime, _ = procfs.StartTime(self.PID)
	self.Exe, _ = procfs.Exe(self.PID)
	gone := self
	gone.StartTime++ // same pid, another process: reused
	for _, tc := range []struct {
		name   string
		r      record
		state  drivers.State
		detail string
	}{
		{"own sesman alive", record{Identity: self, Sesman: &self}, drivers.StateRunning, ""},
		{"own sesman gone", record{Identity: self, Sesman: &gone}, drivers.StateExited, "xrdp-sesman"},
		{"record from before sesmans", record{Identity: self}, drivers.StateExited, "older lucid-rdp"},
		{"shared sesman", record{Identity: self, SharedSesman: true}, drivers.StateRunning, ""},
		{"listener gone", record{Identity: gone, Sesman: &self}, drivers.StateExited, "listener"},
	} {
		in := tc.r.instance()
		if in.State != tc.state || !strings.Contains(in.Detail, tc.detail) {
			t.Errorf("%s: state %s, detail %q", tc.name, in.State, in.Detail)
		}
		if tc.r.SharedSesman != (in.Warning != "") {
			t.Errorf("%s: warning %q", tc.name, in.Warning)
		}
	}
}

// TestGateClosedStartsNothing: a process whose record was never written (as
// when lucid-rdp is killed between starting it and recording it) does not
// start xrdp: the helper sees the gate close and exits.
func TestGateClosedStartsNothing(t *testing.T) {
	realXrdp(t)
	d := New(t.TempDir(), nil)
	rec := &record{Name: "g"}
	if err := os.MkdirAll(filepath.Join(d.dir("g"), "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir("g"), "sesman.ini"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	xrdp, _ := d.xrdpPath()
	id, done, release, err := d.spawn(rec, xrdp, "xrdp.out", "xrdp.pid", xrdp, "--nodaemon", "--config", "/nonexistent.ini")
	if err != nil {
		t.Fatal(err)
	}
	release(false)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("pid %d still runs after its gate closed", id.PID)
	}
	if b, _ := os.ReadFile(filepath.Join(d.dir("g"), "xrdp.out")); !strings.Contains(string(b), "went away") {
		t.Errorf("the helper did not say why it stopped: %q", b)
	}
}
