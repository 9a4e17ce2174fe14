package integration

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// hostUser creates a host account with a home and password for the test, and
// on cleanup ends what still runs as it (by pid) and removes it.
func hostUser(t *testing.T, name, password string) int {
	t.Helper()
	need(t, "useradd", "chpasswd", "userdel")
	if _, err := user.Lookup(name); err == nil {
		t.Fatalf("account %s exists already; a test left it? remove it with: userdel -r %s", name, name)
	}
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	t.Cleanup(func() {
		// The session's own processes were started for this account by the
		// test's servers; the session is over, so they go.
		for _, p := range procsOf(uid) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		waitFor(t, 10*time.Second, name+"'s processes to end", func() bool { return len(procsOf(uid)) == 0 })
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	return uid
}

// procsOf returns the live processes running as uid. A process table that
// cannot be read panics (failing the test): an empty answer would pass every
// "no longer runs" check.
func procsOf(uid int) []procfs.Stat {
	snap, err := procfs.Snapshot()
	if err != nil {
		panic(err)
	}
	var out []procfs.Stat
	for _, p := range snap.All() {
		if u, err := procfs.UID(p.PID); err == nil && u == uid {
			out = append(out, p)
		}
	}
	return out
}

// runs reports whether a process named comm runs as uid.
func runs(uid int, comm string) bool {
	for _, p := range procsOf(uid) {
		if p.Comm == comm {
			return true
		}
	}
	return false
}

// endSessions ends the test accounts' sessions: their X servers, by pid, so
// the window managers and the per-session sesmans follow.
func endSessions(t *testing.T, uids ...int) {
	t.Helper()
	for _, uid := range uids {
		for _, p := range procsOf(uid) {
			if p.Comm == "Xorg" {
				_ = syscall.Kill(p.PID, syscall.SIGTERM)
			}
		}
	}
	// An X server that exits cleans its lock file and socket up; one killed
	// later by force would leave them behind.
	waitFor(t, 10*time.Second, "the X servers to exit", func() bool {
		for _, uid := range uids {
			if runs(uid, "Xorg") {
				return false
			}
		}
		return true
	})
}

// desktopHost is the setup of a process test with logins: a host, the
// programs a login needs, and a host account for each name, password pair,
// whose sessions are ended when the test ends (after the servers' logs are
// shown, if it failed). It returns the accounts' uids, in order.
func desktopHost(t *testing.T, accounts ...string) (*host, []int) {
	t.Helper()
	h := newHost(t)
	need(t, "Xvfb", "xfreerdp", "startxfce4")
	var uids []int
	for i := 0; i+1 < len(accounts); i += 2 {
		uids = append(uids, hostUser(t, accounts[i], accounts[i+1]))
	}
	t.Cleanup(func() { endSessions(t, uids...) })
	// A desktop that did not come up says why in its account's X session log
	// (the account and its home go when the test ends).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i := 0; i+1 < len(accounts); i += 2 {
			if b, err := os.ReadFile(filepath.Join("/home", accounts[i], ".xsession-errors")); err == nil {
				t.Logf("%s's ~/.xsession-errors:\n%s", accounts[i], b)
			}
		}
	})
	t.Cleanup(func() { h.logServerFiles("xrdp-sesman.log", "sesman.out", "xrdp.log") })
	return h, uids
}
