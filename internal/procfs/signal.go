package procfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Terminate ends the process id names: SIGTERM, then SIGKILL if it is still
// there after grace. It signals through a pidfd opened before the identity is
// checked, so the signal reaches that process and no other even if the pid is
// reused meanwhile. A process that is gone, or is not the one id names, is left
// alone and is not an error.
func Terminate(ctx context.Context, id Identity, grace time.Duration) error {
	if id.PID <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("procfs: pidfd_open %d: %w", id.PID, err)
	}
	defer unix.Close(fd)
	if !id.Matches() { // the pidfd now pins whatever process holds the pid
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("procfs: signal %d: %w", id.PID, err)
	}
	if exited(ctx, fd, grace) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("procfs: signal %d: %w", id.PID, err)
	}
	if exited(ctx, fd, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("procfs: pid %d survived SIGKILL", id.PID)
}

// Signal sends sig to the process id names, through a pidfd opened before the
// identity is checked (see Terminate). It reports whether it was sent: false,
// with no error, when the process is gone or is another.
func Signal(id Identity, sig unix.Signal) (bool, error) {
	if id.PID <= 0 {
		return false, nil
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("procfs: pidfd_open %d: %w", id.PID, err)
	}
	defer unix.Close(fd)
	if !id.Matches() {
		return false, nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("procfs: signal %d: %w", id.PID, err)
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
