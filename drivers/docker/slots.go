package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
)

// A container in the host's network (network = "host") shares the host's
// loopback ports and X display sockets with the process servers and with the
// other such containers: its sesman port and display block come from the
// hostslots pool, and state_dir/docker/NAME/slot.json holds them for as long
// as the server's folder exists.

// UseSlots makes the driver draw host-network slots from pool, which then
// sees the ones this driver's servers hold. Call it before the first Start;
// without it the driver keeps a pool of its own.
func (d *Driver) UseSlots(pool *hostslots.Pool) { d.slots.Use(pool) }

func (d *Driver) slotPath(name string) string { return filepath.Join(d.Dir, name, "slot.json") }

// holdings reads every server's slot.json.
func (d *Driver) holdings() map[string]hostslots.Slot {
	out := map[string]hostslots.Slot{}
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if s, err := d.readSlot(e.Name()); err == nil && e.IsDir() {
			out[d.slots.Key(e.Name())] = s
		}
	}
	return out
}

func (d *Driver) readSlot(name string) (hostslots.Slot, error) {
	var s hostslots.Slot
	b, err := os.ReadFile(d.slotPath(name))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// reserveSlot gives server name a slot, keeping the one it had where it can;
// writeSlot records it. live: the server's sesman runs and keeps its port.
func (d *Driver) reserveSlot(name string, maxSessions int, live bool) (hostslots.Slot, error) {
	old, _ := d.readSlot(name)
	return d.slots.Reserve(name, maxSessions, old, live, nil) // its errors say "docker: NAME: "
}

// writeSlot records server name's slot in slot.json, where the pool finds it
// from then on (the reservation alone lasts only while this process runs).
func (d *Driver) writeSlot(name string, s hostslots.Slot) error {
	if old, err := d.readSlot(name); err == nil && old == s {
		return nil
	}
	b, _ := json.Marshal(s)
	if err := atomicfile.Write(d.slotPath(name), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("docker: %s: %w", name, err)
	}
	return nil
}

// dropSlot gives up server name's slot: it left the host's network.
func (d *Driver) dropSlot(name string) error {
	d.slots.Release(name)
	if err := os.Remove(d.slotPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("docker: %s: %w", name, err)
	}
	return nil
}
