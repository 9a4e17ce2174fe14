// Package procfs reads the few facts lucid-rdp needs about a process from /proc:
// its start time and executable, which together with the pid tell a process
// lucid-rdp started from another that was later given the same pid.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrNoProcess reports that no process has the pid.
var ErrNoProcess = errors.New("procfs: no such process")

// StartTime returns the process's start time in clock ticks since boot (field 22
// of /proc/PID/stat). It does not change across exec.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if os.IsNotExist(err) {
			return 0, ErrNoProcess
		}
		return 0, fmt.Errorf("procfs: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses itself: count fields from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procfs: malformed stat for pid %d", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("procfs: short stat for pid %d", pid)
	}
	if string(f[0]) == "Z" || string(f[0]) == "X" {
		return 0, ErrNoProcess // a zombie has no listener left
	}
	return strconv.ParseUint(string(f[19]), 10, 64)
}

// Exe returns the path of the process's executable.
func Exe(pid int) (string, error) {
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		if os.IsNotExist(err) {
			return "", ErrNoProcess
		}
		return "", fmt.Errorf("procfs: %w", err)
	}
	return p, nil
}

// Identity is what makes a process the one lucid-rdp started.
type Identity struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	Exe       string `json:"exe"`
}

// Matches reports whether the live process with id.PID is still the one id
// describes: same start time and same executable.
func (id Identity) Matches() bool {
	if id.PID <= 0 {
		return false
	}
	st, err := StartTime(id.PID)
	if err != nil || st != id.StartTime {
		return false
	}
	exe, err := Exe(id.PID)
	// A package upgrade replaces the file under a running program; the kernel
	// then shows its old path with " (deleted)". It is still the same process.
	return err == nil && strings.TrimSuffix(exe, " (deleted)") == id.Exe
}
