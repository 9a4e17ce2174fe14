package process

import (
	"os"

	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// Each process server has a sesman port and a block of X displays of its own
// (hostslots), so two servers never race for one display. The pool is shared
// with the docker servers in the host's network when the caller says so
// (UseSlots); the driver's records are its holdings.

// UseSlots makes the driver draw sesman ports and display blocks from pool,
// which then sees the servers this driver's records hold. Call it before the
// first Start; without it the driver keeps a pool of its own.
func (d *Driver) UseSlots(pool *hostslots.Pool) { d.slots.Use(pool) }

// holdings reads the slot of every server that has a record.
func (d *Driver) holdings() map[string]hostslots.Slot {
	out := map[string]hostslots.Slot{}
	entries, err := os.ReadDir(d.ServersDir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := d.readRecord(e.Name())
		if err != nil {
			continue
		}
		s := hostslots.Slot{SesmanPort: r.SesmanPort}
		if r.DisplayOffset != 0 {
			s.First, s.Last = r.displays()
		}
		out[d.slots.Key(e.Name())] = s
	}
	return out
}

// allocate gives rec a sesman port and a block of displays, preferring what
// old had (see hostslots.Pool.Reserve). keep means old's sesman is alive and
// keeps its port whatever the socket table says. The record takes the
// reservation over with the first process it tracks. tab is the listening
// sockets, read by the caller (nil: read here).
func (d *Driver) allocate(name string, rec, old *record, keep bool, tab *socktab.Table) error {
	var was hostslots.Slot
	if old != nil {
		was.SesmanPort = old.SesmanPort
		if old.DisplayOffset != 0 {
			was.First, was.Last = old.displays()
		}
	}
	s, err := d.slots.Reserve(name, rec.Settings.MaxSessions, was, keep, tab)
	if err != nil {
		return err
	}
	rec.SesmanPort, rec.DisplayOffset = s.SesmanPort, s.First
	return nil
}

// release forgets server name's reservation (its record is gone).
func (d *Driver) release(name string) { d.slots.Release(name) }
