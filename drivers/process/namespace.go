package process

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// helperArg, as the first argument of lucid-rdp's own executable, makes it the
// namespace helper instead of the CLI: Start runs it in a new mount namespace
// (once for the server's sesman, once for its listener); it gives that
// namespace the server's own /run/xrdp and sesman.ini, and execs the program.
// The check runs from init so it works in any binary that links this package
// (the CLI and test binaries alike).
//
//	lucid-rdp __lucid-rdp-xrdp-namespace-2 RUNDIR SESMAN_INI PIDFILE PROGRAM ARGS...
//
// Before it execs, it waits for one byte on fd 3, the gate: lucid-rdp sends it
// once its record names this process. If lucid-rdp dies first, the gate closes
// empty and the helper exits, so nothing runs that no record tracks.
// The name carries the argument protocol's version: an agent still running an
// older binary must not call a newer helper with other arguments.
const helperArg = "__lucid-rdp-xrdp-namespace-2"

// Paths compiled into xrdp 0.9.
const (
	// hostRunDir is xrdp's runtime folder; its pid files live here.
	hostRunDir = "/run/xrdp"
	// hostSesmanINI is where xrdp looks up sesman's port at each login, and
	// where chansrv reads its settings, whatever --config says.
	hostSesmanINI = "/etc/xrdp/sesman.ini"
)

func init() {
	if len(os.Args) > 5 && os.Args[1] == helperArg {
		if err := runHelper(os.Args[2], os.Args[3], os.Args[4], os.Args[5:]); err != nil {
			fmt.Fprintf(os.Stderr, "lucid-rdp: xrdp namespace: %v\n", err)
			os.Exit(1)
		}
	}
}

// runHelper runs in a fresh mount namespace (CLONE_NEWNS). It mounts runDir over
// /run/xrdp, with the host's /run/xrdp/sockdir bound back inside (xrdp finds
// the X servers' sockets there, whichever namespace started them), binds
// sesmanINI over /etc/xrdp/sesman.ini, removes a stale pidFile of an earlier
// instance, then replaces itself with argv.
//
// The binds are taken at start: an atomic rewrite of sesmanINI replaces the
// file, and xrdp keeps seeing the one it started with. That is enough, since
// xrdp reads only ListenPort from it, and a server keeps its port for life.
func runHelper(runDir, sesmanINI, pidFile string, argv []string) error {
	// Mounts made here never propagate back to the host; the host's later mounts
	// (a USB disk, an NFS home) still reach the sessions started in here.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	hostSock := filepath.Join(hostRunDir, "sockdir")
	if _, err := os.Stat(hostSock); os.IsNotExist(err) {
		if err := os.MkdirAll(hostSock, 0o755); err != nil {
			return err
		}
		// xrdp's own mode for sockdir: anyone may create sockets; sticky, setgid.
		if err := os.Chmod(hostSock, 0o777|os.ModeSticky|os.ModeSetgid); err != nil {
			return err
		}
	}
	sock := filepath.Join(runDir, "sockdir")
	if err := os.MkdirAll(sock, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(hostSock, sock, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", hostSock, err)
	}
	if err := syscall.Mount(runDir, hostRunDir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", runDir, hostRunDir, err)
	}
	if err := syscall.Mount(sesmanINI, hostSesmanINI, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", sesmanINI, hostSesmanINI, err)
	}
	// A pid file left by an instance that was killed would stop the next one.
	_ = os.Remove(filepath.Join(hostRunDir, filepath.Base(pidFile)))
	gate := os.NewFile(3, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		return fmt.Errorf("lucid-rdp went away before it recorded this process; not starting %s", argv[0])
	}
	gate.Close()
	return syscall.Exec(argv[0], argv, os.Environ())
}
