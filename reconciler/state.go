package reconciler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
)

// State is what lucid-rdp keeps between runs beside the drivers' own records:
// which port each server was given, and which servers are draining.
type State struct {
	// Ports maps server names to their allocated ports.
	Ports map[string]int `json:"ports,omitempty"`
	// Draining maps servers being drained to when the drain began.
	Draining map[string]time.Time `json:"draining,omitempty"`
}

const stateFile = "state.json"

// LoadState reads state_dir/state.json; a missing file is an empty state.
func LoadState(stateDir string) (State, error) {
	var st State
	if err := readJSON(filepath.Join(stateDir, stateFile), &st); err != nil {
		return State{}, err
	}
	return st, nil
}

// readJSON reads the JSON file at path into v. A missing file is no error
// and leaves v as it was; one that does not parse is ErrCorruptState.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	return nil
}

// writeJSON writes v to path as indented JSON, atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	return nil
}

// ErrCorruptState reports a state.json (or alerts.json) that does not parse. It is recovered
// from, not fatal: ports are taken again from the running servers, drains
// start over, and the next apply keeps the bad file as state.json.corrupt.
var ErrCorruptState = errors.New("reconciler: unreadable state")

// SaveState writes state_dir/state.json atomically.
func SaveState(stateDir string, st State) error {
	return writeJSON(filepath.Join(stateDir, stateFile), st)
}

// keepCorruptState keeps an unreadable state.json aside as
// state.json.corrupt, for a person to look at, before it is written anew.
func keepCorruptState(stateDir string) {
	path := filepath.Join(stateDir, stateFile)
	_ = os.Rename(path, path+".corrupt")
}

// Lock takes state_dir's lock, so that two lucid-rdp commands never change the
// host at once. It fails at once, naming the lock file, when another holds it.
func Lock(stateDir string) (unlock func(), err error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("reconciler: state_dir: %w", err)
	}
	path := filepath.Join(stateDir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reconciler: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another lucid-rdp"
		if b, rerr := io.ReadAll(io.LimitReader(f, 64)); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			holder = fmt.Sprintf("lucid-rdp pid %s", bytes.TrimSpace(b))
		}
		f.Close()
		return nil, fmt.Errorf("reconciler: %s holds %s: one lucid-rdp at a time keeps a state folder (an agent holds it for its life; edit the spec and it follows)", holder, path)
	}
	// Name the holder for whoever is refused.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// AlertState is what the agent keeps of its alerts between passes and across
// restarts, in state_dir/alerts.json: each series' state (so that `for` and
// keep_firing_for go on counting), and what the actions remember (so that a
// restarted agent keeps to their cooldowns).
type AlertState struct {
	// Agent is the agent that evaluates them. What they ask of the servers
	// holds only while it runs: without an agent, nothing evaluates them.
	Agent  *procfs.Identity `json:"agent,omitempty"`
	Series []alerts.Series  `json:"series,omitempty"`
	Memory alerts.Memory    `json:"memory"`
	// Rules are what notifications of each rule were labelled with, so that
	// a rule removed while it fires can still be sent resolved, with the
	// labels it was sent firing with.
	Rules map[string]RuleLabels `json:"rules,omitempty"`
}

// RuleLabels are the parts of a rule its notifications carry.
type RuleLabels struct {
	Metric   string `json:"metric"`
	Action   string `json:"action"`
	Severity string `json:"severity,omitempty"`
}

const alertsFile = "alerts.json"

// LoadAlertState reads state_dir/alerts.json; a missing file is an empty
// state. An unreadable one is an error, and an empty state: alerts then
// start over, which loses no server and no session.
func LoadAlertState(stateDir string) (AlertState, error) {
	var st AlertState
	if err := readJSON(filepath.Join(stateDir, alertsFile), &st); err != nil {
		return AlertState{}, fmt.Errorf("%w; alerts start over", err)
	}
	return st, nil
}

// SaveAlertState writes state_dir/alerts.json atomically.
func SaveAlertState(stateDir string, st AlertState) error {
	return writeJSON(filepath.Join(stateDir, alertsFile), st)
}
