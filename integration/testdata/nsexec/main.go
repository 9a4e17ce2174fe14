// Command nsexec runs a program as one host of a fleet on this machine: in a
// network namespace made beforehand (ip netns add NAME gives
// /run/netns/NAME) and a UTS namespace of its own, with its own host name.
// The fleet test starts each host's agent, and commands on its behalf, this
// way.
//
//	nsexec -net /run/netns/NAME -hostname lab-1 -- PROGRAM ARGS...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	netns := flag.String("net", "", "the network namespace to join: a `FILE` such as /run/netns/NAME")
	hostname := flag.String("hostname", "", "the host `NAME` in a UTS namespace of its own")
	flag.Parse()
	args := flag.Args()
	if *netns == "" || *hostname == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: nsexec -net FILE -hostname NAME -- PROGRAM ARGS...")
		os.Exit(2)
	}
	// Namespaces are a thread's: join and unshare on this thread, and exec
	// from it.
	runtime.LockOSThread()
	fd, err := unix.Open(*netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail("open %s: %v", *netns, err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		fail("setns %s: %v", *netns, err)
	}
	unix.Close(fd)
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		fail("unshare the UTS namespace: %v", err)
	}
	if err := unix.Sethostname([]byte(*hostname)); err != nil {
		fail("sethostname %s: %v", *hostname, err)
	}
	// The host is known by its host name alone, as on a real machine.
	os.Unsetenv("LUCID_RDP_HOST")
	path, err := exec.LookPath(args[0])
	if err != nil {
		fail("%v", err)
	}
	fail("exec %s: %v", path, syscall.Exec(path, args, os.Environ()))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nsexec: "+format+"\n", args...)
	os.Exit(1)
}
