// Package fake is a drivers.Driver steered by data, for testing the reconciler's
// logic without a host. It must never be used to test a real driver.
package fake

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// Driver keeps its servers in memory.
type Driver struct {
	// DriverName is what Name returns.
	DriverName string

	mu sync.Mutex
	// Instances are the servers the driver owns, by name.
	Instances map[string]drivers.Instance
	// SessionCounts are live session counts by name.
	SessionCounts map[string]int
	// LosesSessions makes the driver one whose replace ends live sessions.
	LosesSessions bool
	// ListErr, when set, is returned by List.
	ListErr error
	// StartErr fails Start for the named servers.
	StartErr map[string]error
	// Calls records every mutating call, as "start NAME", "stop NAME" ...
	Calls  []string
	nextID int
}

// New returns an empty fake driver called name.
func New(name string) *Driver {
	return &Driver{DriverName: name, Instances: map[string]drivers.Instance{}, SessionCounts: map[string]int{}, StartErr: map[string]error{}}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return d.DriverName }

// List implements drivers.Driver.
func (d *Driver) List(ctx context.Context) ([]drivers.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ListErr != nil {
		return nil, d.ListErr
	}
	out := make([]drivers.Instance, 0, len(d.Instances))
	for _, in := range d.Instances {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, want drivers.Desired) (drivers.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Calls = append(d.Calls, "start "+want.Name)
	if err := d.StartErr[want.Name]; err != nil {
		return drivers.Instance{}, err
	}
	if in, ok := d.Instances[want.Name]; ok && in.State == drivers.StateRunning {
		return drivers.Instance{}, fmt.Errorf("fake: %s already running", want.Name)
	}
	d.nextID++
	in := drivers.Instance{
		Name: want.Name, Driver: d.DriverName, ID: strconv.Itoa(d.nextID), State: drivers.StateRunning,
		Config: want.Config, Hash: want.Config.Hash(), Settings: want.Settings,
	}
	d.Instances[want.Name] = in
	return in, nil
}

// Stop implements drivers.Driver.
func (d *Driver) Stop(ctx context.Context, name string, grace time.Duration, forget bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Calls = append(d.Calls, fmt.Sprintf("stop %s forget=%v", name, forget))
	if forget {
		delete(d.Instances, name)
	} else if in, ok := d.Instances[name]; ok {
		in.State = drivers.StateExited
		d.Instances[name] = in
	}
	return nil
}

// Update implements drivers.Driver.
func (d *Driver) Update(ctx context.Context, want drivers.Desired) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Calls = append(d.Calls, "update "+want.Name)
	in, ok := d.Instances[want.Name]
	if !ok {
		return fmt.Errorf("fake: %s not found", want.Name)
	}
	in.Settings = want.Settings
	d.Instances[want.Name] = in
	return nil
}

// KeepsSessionsOnReplace implements drivers.SessionKeeper, as the process
// driver does, unless LosesSessions is set.
func (d *Driver) KeepsSessionsOnReplace() bool { return !d.LosesSessions }

// Sessions implements drivers.SessionLister from SessionCounts: that
// many active sessions per server, with made-up users and displays.
func (d *Driver) Sessions(ctx context.Context, instances []drivers.Instance, host *drivers.Host) drivers.SessionLook {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []drivers.Session
	for _, in := range instances {
		for i := range d.SessionCounts[in.Name] {
			out = append(out, drivers.Session{Server: in.Name, User: fmt.Sprintf("user%d", i+1), Display: 10 + i, State: drivers.SessionActive})
		}
	}
	return drivers.SessionLook{Sessions: out}
}
