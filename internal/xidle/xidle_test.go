package xidle

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// xvfb starts Xvfb on a free display with a cookie in authFile (written with
// xauth), and returns its pid and display number.
func xvfb(t *testing.T, authFile string) (int, int) {
	t.Helper()
	for _, p := range []string{"Xvfb", "xauth", "xdotool"} {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, "%s is not installed", p)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-auth", authFile, "-noreset", "-nolisten", "tcp", "-screen", "0", "320x200x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb reported no display: %v", err)
	}
	display, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid, display
}

func addCookie(t *testing.T, file string, display int) []byte {
	t.Helper()
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	out, err := exec.Command("xauth", "-q", "-f", file, "add", ":"+strconv.Itoa(display), ".", hex.EncodeToString(cookie)).CombinedOutput()
	if err != nil {
		t.Fatalf("xauth: %v: %s", err, out)
	}
	return cookie
}

func TestIdleOfXServer(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	// Xvfb reads its cookies from -auth when a client connects, so the one
	// for the display it picks can be added after it starts.
	if err := os.WriteFile(auth, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pid, display := xvfb(t, auth)
	addCookie(t, auth, display+1) // another display's cookie first: it must be skipped
	cookie := addCookie(t, auth, display)
	if got, err := cookieOf(pid, display, []string{"Xvfb", "-auth", auth}, os.Getuid()); err != nil || string(got) != string(cookie) {
		t.Fatalf("cookieOf = %x, %v; want %x", got, err, cookie)
	}

	time.Sleep(1200 * time.Millisecond)
	idle, err := idleOfPID(pid, display, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if idle < time.Second || idle > time.Minute {
		t.Fatalf("idle %s after 1.2 s without input", idle)
	}

	// Input resets it.
	mv := exec.Command("xdotool", "mousemove", "10", "10", "mousemove", "20", "30")
	mv.Env = append(os.Environ(), "DISPLAY=:"+strconv.Itoa(display), "XAUTHORITY="+auth)
	if out, err := mv.CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v: %s", err, out)
	}
	idle2, err := idleOfPID(pid, display, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Lower than before shows the reset: without it, idle only grows. (A
	// bound in wall time would flake on a loaded machine.)
	if idle2 >= idle {
		t.Fatalf("idle %s just after input (was %s)", idle2, idle)
	}
}

// TestWrongCookieRefused: an X server that refuses the cookie gives an error
// that says so, not an idle time. (That the right cookie is the one sent is
// what TestIdleOfXServer shows: its Xvfb lets nobody in without it.)
func TestWrongCookieRefused(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, display := xvfb(t, auth)
	addCookie(t, auth, display)
	// The server's file says one cookie; Idle must present the one the
	// server knows, so a file that says another is refused.
	other := filepath.Join(dir, "other")
	addCookie(t, other, display)
	// A process whose -auth names other stands in for the X server.
	cmd := exec.Command("bash", "-c", "sleep 30; :", "-auth", other)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Its arguments are given: read from /proc at once, they could still be
	// the test's own, before the child has run bash.
	if _, err := IdleOf(cmd.Process.Pid, display, cmd.Args, os.Getuid(), time.Second); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Idle with a wrong cookie: %v; want a refusal", err)
	}
}

func TestAuthorityFileMustBeTheUsers(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	addCookie(t, auth, 5)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(auth, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "sleep 30; :", "-auth", link)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if _, err := cookieOf(cmd.Process.Pid, 5, []string{"bash", "-auth", link}, os.Getuid()); err == nil {
		t.Fatal("a symlinked authority file was read")
	}
}

func TestFindCookie(t *testing.T) {
	rec := func(number, name, data string) []byte {
		var b []byte
		b = append(b, 1, 0) // family
		for _, f := range []string{"host", number, name, data} {
			b = append(b, byte(len(f)>>8), byte(len(f)))
			b = append(b, f...)
		}
		return b
	}
	file := append(rec("10", "XDM-AUTHORIZATION-1", "nope"), rec("1", "MIT-MAGIC-COOKIE-1", "one")...)
	file = append(file, rec("10", "MIT-MAGIC-COOKIE-1", "ten")...)
	if got := findCookie(file, "10"); string(got) != "ten" {
		t.Fatalf("findCookie = %q", got)
	}
	if got := findCookie(file[:len(file)-2], "10"); got != nil {
		t.Fatalf("truncated file gave %q", got)
	}
	if got := findCookie(file, "11"); got != nil {
		t.Fatalf("display 11 gave %q", got)
	}
}

// BenchmarkIdle measures one query (0.2 ms here). Like sesman's Xorg, the
// server runs with -noreset: without it, it resets when the last client
// leaves, and the next connection waits for that (28 ms).
func BenchmarkIdle(b *testing.B) {
	dir := b.TempDir()
	auth := filepath.Join(dir, "auth")
	_ = os.WriteFile(auth, nil, 0o600)
	r, w, _ := os.Pipe()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-auth", auth, "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	_ = cmd.Start()
	w.Close()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(r).ReadString('\n')
	d, _ := strconv.Atoi(strings.TrimSpace(line))
	_ = exec.Command("xauth", "-q", "-f", auth, "add", ":"+strconv.Itoa(d), ".", "00112233445566778899aabbccddeeff").Run()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := idleOfPID(cmd.Process.Pid, d, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// idleOfPID asks the X server xpid, serving display, with the arguments and
// user /proc shows for it.
func idleOfPID(xpid, display int, timeout time.Duration) (time.Duration, error) {
	args, err := procfs.Cmdline(xpid)
	if err != nil {
		return 0, err
	}
	uid, err := procfs.UID(xpid)
	if err != nil {
		return 0, err
	}
	return IdleOf(xpid, display, args, uid, timeout)
}
