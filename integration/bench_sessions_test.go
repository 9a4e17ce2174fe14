package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/process"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// Stand-ins for xrdp's session processes, for BenchmarkSessionsPass. This
// test binary plays them when LUCID_RDP_STAND_IN names a role (see TestMain),
// run through links named as xrdp's programs so that their command names are
// xrdp's:
//
//	xrdp-sesman DISPLAYS AUTH --config CONF  a server's sesman: starts one
//	                                         session sesman per display (a
//	                                         comma-separated list)
//	xrdp-sesman DISPLAY AUTH --config CONF   a session's sesman: the parent of
//	                                         its X server, Xvfb named Xorg
//	xrdp DISPLAY ADDR --config CONF          a connection process: a Unix
//	                                         connection to that X server, a
//	                                         TCP one to ADDR
const standInEnv = "LUCID_RDP_STAND_IN"

// standIn plays role with args (os.Args[1:]) and never returns.
func standIn(role string, args []string) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "stand-in %s: %v\n", role, err)
		os.Exit(1)
	}
	if len(args) < 4 {
		fail(fmt.Errorf("arguments %q", args))
	}
	dir := filepath.Dir(os.Args[0])
	switch role {
	case "server-sesman":
		for _, d := range strings.Split(args[0], ",") {
			cmd := exec.Command(filepath.Join(dir, "xrdp-sesman"), d, args[1], "--config", args[3])
			cmd.Env = append(os.Environ(), standInEnv+"=session-sesman")
			if err := cmd.Start(); err != nil {
				fail(err)
			}
		}
	case "session-sesman":
		cmd := exec.Command(filepath.Join(dir, "Xorg"), ":"+args[0], "-auth", args[1], "-nolisten", "tcp", "-noreset", "-screen", "0", "64x64x16")
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		_ = cmd.Wait()
		os.Exit(0)
	case "xrdp":
		var x, c net.Conn
		var err error
		for range 500 {
			if x, err = net.Dial("unix", "/tmp/.X11-unix/X"+args[0]); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			fail(err)
		}
		if c, err = net.Dial("tcp", args[1]); err != nil {
			fail(err)
		}
		defer x.Close()
		defer c.Close()
	default:
		fail(fmt.Errorf("no such role"))
	}
	select {} // until killed
}

// BenchmarkSessionsPass: the look at sessions that every agent pass takes,
// with 50 process servers and 100 sessions (two each: one active, one
// disconnected). Whatever the number of servers and sessions, it reads the
// host's TCP table once and its Unix socket dump once (a docker server's, once
// per container: its own network namespace), and it asks each session's X
// server for its idle time. The sessions are stand-ins with xrdp's shape (see
// standIn); the X servers are real (Xvfb). The peer is `ss -tanxp`, which
// lists the same sockets with their processes, as an operator would to see
// who is connected.
func BenchmarkSessionsPass(b *testing.B) {
	const servers, perServer = 50, 2
	need(b, "Xvfb", "xauth", "ss")
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	links := filepath.Join(tmp, "bin")
	if err := os.Mkdir(links, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, target := range map[string]string{"xrdp-sesman": self, "xrdp": self, "Xorg": xvfb} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			b.Fatal(err)
		}
	}

	// Displays from 700 up that nothing uses, and one cookie file for all.
	var displays []int
	for d := 700; len(displays) < servers*perServer && d < 2000; d++ {
		if _, err := os.Lstat(fmt.Sprintf("/tmp/.X%d-lock", d)); os.IsNotExist(err) {
			if _, err := os.Lstat(fmt.Sprintf("/tmp/.X11-unix/X%d", d)); os.IsNotExist(err) {
				displays = append(displays, d)
			}
		}
	}
	if len(displays) < servers*perServer {
		b.Fatalf("only %d free X displays from :700 up; want %d", len(displays), servers*perServer)
	}
	auth := filepath.Join(tmp, "Xauthority")
	var script strings.Builder
	for _, d := range displays {
		fmt.Fprintf(&script, "add :%d . %032x\n", d, d)
	}
	xauth := exec.Command("xauth", "-q", "-f", auth, "source", "-")
	xauth.Stdin = strings.NewReader(script.String())
	if out, err := xauth.CombinedOutput(); err != nil {
		b.Fatalf("xauth: %v\n%s", err, out)
	}

	// The clients' side of the active connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	drv := process.New(filepath.Join(tmp, "state"), nil)
	var groups []int // process groups this benchmark started, ended at the end
	defer func() {
		// SIGTERM first, and time to go: an X server killed hard leaves its
		// lock and socket in /tmp.
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGTERM)
		}
		locked := func() bool {
			for _, d := range displays {
				if _, err := os.Lstat(fmt.Sprintf("/tmp/.X%d-lock", d)); err == nil {
					return true
				}
			}
			return false
		}
		for end := time.Now().Add(5 * time.Second); locked() && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	}()
	start := func(role string, args ...string) {
		name := "xrdp-sesman"
		if role == "xrdp" {
			name = "xrdp"
		}
		cmd := exec.Command(filepath.Join(links, name), args...)
		cmd.Env = append(os.Environ(), standInEnv+"="+role)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		groups = append(groups, cmd.Process.Pid)
		go func() { _ = cmd.Wait() }()
	}
	var instances []drivers.Instance
	for i := range servers {
		name := fmt.Sprintf("bench%02d", i)
		instances = append(instances, drivers.Instance{Name: name, Driver: process.Name, State: drivers.StateExited})
		dir := filepath.Join(drv.ServersDir, name)
		mine := displays[i*perServer : (i+1)*perServer]
		var ds []string
		for _, d := range mine {
			ds = append(ds, strconv.Itoa(d))
		}
		start("server-sesman", strings.Join(ds, ","), auth, "--config", filepath.Join(dir, "sesman.ini"))
		start("xrdp", ds[0], ln.Addr().String(), "--config", filepath.Join(dir, "xrdp.ini"))
	}

	ctx := context.Background()
	look := func() ([]drivers.Session, []drivers.Leftover, int64) {
		before := socktab.TablesRead()
		look := drv.Sessions(ctx, instances, drivers.NewHost(nil))
		return look.Sessions, look.Leftovers, socktab.TablesRead() - before
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, l, _ := look()
		active, idleKnown := 0, 0
		for _, x := range s {
			if x.State == drivers.SessionActive {
				active++
			}
			if x.IdleSource == "x11-input" {
				idleKnown++
			}
		}
		if len(s) == servers*perServer && active == servers && idleKnown == len(s) && len(l) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("stand-ins not ready after 60 s: %d sessions, %d active, %d with idle time, %d leftovers; want %d, %d, all, none",
				len(s), active, idleKnown, len(l), servers*perServer, servers)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var ours, peer []time.Duration
	var reads int64
	for range benchRounds {
		t0 := time.Now()
		var s []drivers.Session
		s, _, reads = look()
		ours = append(ours, time.Since(t0))
		if len(s) != servers*perServer {
			b.Fatalf("a look found %d sessions; want %d", len(s), servers*perServer)
		}
		if reads != 2 {
			b.Fatalf("a look at %d servers read %d socket tables; want 2 (the TCP table and the Unix socket dump, once each)", servers, reads)
		}
		t0 = time.Now()
		if out, err := exec.Command("ss", "-tanxp").CombinedOutput(); err != nil {
			b.Fatalf("ss: %v\n%s", err, out)
		}
		peer = append(peer, time.Since(t0))
	}
	o, p := median(ours), median(peer)
	b.ReportMetric(ms(o), "ms/look")
	b.ReportMetric(ms(p), "ms/ss")
	b.ReportMetric(float64(o)/float64(p), "ratio")
	b.ReportMetric(float64(reads), "tables/look")
	fmt.Printf("sessions look, %d servers, %d sessions: %.1f ms (%d socket tables read); ss -tanxp %.1f ms; ratio %.2f\n",
		servers, servers*perServer, ms(o), reads, ms(p), float64(o)/float64(p))
}
