package process

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// helperArg, as the first argument of lucid-rdp's own executable, makes it the
// namespace helper instead of the CLI: it is started by Start in a new mount
// namespace, gives that namespace its own /run/xrdp, and execs xrdp. The check
// runs from init so it works in any binary that links this package (the CLI and
// test binaries alike).
const helperArg = "__lucid-rdp-xrdp-namespace"

// hostRunDir is xrdp 0.9's compiled-in runtime folder; its pid file lives here.
const hostRunDir = "/run/xrdp"

func init() {
	if len(os.Args) > 3 && os.Args[1] == helperArg {
		if err := runHelper(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintf(os.Stderr, "lucid-rdp: xrdp namespace: %v\n", err)
			os.Exit(1)
		}
	}
}

// runHelper runs in a fresh mount namespace (CLONE_NEWNS). It mounts runDir over
// /run/xrdp, with the host's /run/xrdp/sockdir bound back inside, then replaces
// itself with argv.
func runHelper(runDir string, argv []string) error {
	// Nothing mounted here may leak back to the host.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
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
	// A pid file left by a listener that was killed would stop the next one.
	_ = os.Remove(filepath.Join(hostRunDir, "xrdp.pid"))
	return syscall.Exec(argv[0], argv, os.Environ())
}
