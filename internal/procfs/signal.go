package procfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Pin opens a pidfd for the process id names, and checks its identity only
// then: the pidfd refers to that process and no other even if the pid is
// reused afterwards. It returns -1, and no error, when the process is gone or
// is another.
func Pin(id Identity) (int, error) {
	if id.PID <= 0 {
		return -1, nil
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("procfs: pidfd_open %d: %w", id.PID, err)
	}
	if !id.Matches() {
		unix.Close(fd)
		return -1, nil
	}
	return fd, nil
}

// send signals the process behind pidfd fd; one that has exited meanwhile is
// not an error.
func send(fd, pid int, sig unix.Signal) error {
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("procfs: signal %d: %w", pid, err)
	}
	return nil
}

// Terminate ends the process id names: SIGTERM, then SIGKILL if it is still
// there after grace, signalled through a pidfd (see pin). It reports whether
// it ended that process; one that is gone, or is not the one id names, is
// left alone, and that is not an error.
func Terminate(ctx context.Context, id Identity, grace time.Duration) (bool, error) {
	fd, err := Pin(id)
	if fd < 0 {
		return false, err
	}
	defer unix.Close(fd)
	if err := send(fd, id.PID, unix.SIGTERM); err != nil {
		return false, err
	}
	if exited(ctx, fd, grace) {
		return true, nil
	}
	if err := send(fd, id.PID, unix.SIGKILL); err != nil {
		return false, err
	}
	if exited(ctx, fd, 5*time.Second) {
		return true, nil
	}
	return false, fmt.Errorf("procfs: pid %d survived SIGKILL", id.PID)
}

// Signal sends sig to the process id names, through a pidfd (see pin). It
// reports whether it was sent: false, with no error, when the process is gone
// or is another.
func Signal(id Identity, sig unix.Signal) (bool, error) {
	fd, err := Pin(id)
	if fd < 0 {
		return false, err
	}
	defer unix.Close(fd)
	if err := send(fd, id.PID, sig); err != nil {
		return false, err
	}
	return true, nil
}

// exited waits up to limit for the process behind pidfd fd to exit (a pidfd
// polls readable once it has, reaped or not).
func exited(ctx context.Context, fd int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		wait := min(time.Until(deadline), 50*time.Millisecond)
		if wait < 0 {
			wait = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(wait.Milliseconds()))
		if n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return false
		}
	}
}
