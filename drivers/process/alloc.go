package process

import (
	"errors"
	"fmt"
	"os"

	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// Where process servers' sesmans listen and which X displays they use. Each
// server has a sesman port and a block of displays of its own, so two servers
// never race for one display, and none meets Debian's own sesman (port 3350,
// displays from 10).
const (
	sesmanPortFirst = 3400
	sesmanPortLast  = 3999
	displayFirst    = 100
	// displayLast: sesman tests TCP ports "59NN", "60NN" and "62NN" for display
	// NN, and past 999 those are no ports, so every display looks taken.
	displayLast = 999
)

// reservation is what allocate gave a server: its sesman port and display block.
type reservation struct{ port, first, last int }

// allocate gives rec a sesman port and a block of displays [offset,
// offset+sessions.max] (sesman uses at most max+1 displays), preferring what
// old had, that no other server's record or reservation holds and (for the
// port) no program listens on. keep means old's sesman is alive and keeps its
// port whatever the socket table says. The choice is reserved under one lock,
// so servers started side by side never choose the same; the record takes it
// with the first process it tracks. tab is the listening sockets, read by the
// caller (nil: read here), outside the lock: reservations cover what changes
// meanwhile.
func (d *Driver) allocate(name string, rec, old *record, keep bool, tab *socktab.Table) error {
	if tab == nil {
		var err error
		if tab, err = socktab.ReadListening(); err != nil {
			tab = &socktab.Table{}
		}
	}
	return d.reserve(name, rec, old, keep, tab)
}

// release forgets server name's reservation (its record is gone).
func (d *Driver) release(name string) {
	d.allocMu.Lock()
	defer d.allocMu.Unlock()
	delete(d.reserved, name)
}

func (d *Driver) reserve(name string, rec, old *record, keep bool, tab *socktab.Table) error {
	d.allocMu.Lock()
	defer d.allocMu.Unlock()
	oldPort, oldOffset := 0, 0 // rec and old may be one record
	if old != nil {
		oldPort, oldOffset = old.SesmanPort, old.DisplayOffset
	}
	usedPorts := map[int]bool{}
	var blocks [][2]int
	for other, r := range d.reserved {
		if other != name {
			usedPorts[r.port] = true
			blocks = append(blocks, [2]int{r.first, r.last})
		}
	}
	entries, err := os.ReadDir(d.ServersDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == name {
			continue
		}
		o, err := d.readRecord(e.Name())
		if err != nil {
			continue
		}
		if o.SesmanPort != 0 {
			usedPorts[o.SesmanPort] = true
		}
		if o.DisplayOffset != 0 {
			first, last := o.displays()
			blocks = append(blocks, [2]int{first, last})
		}
	}

	held := func(port int) bool {
		_, v4 := tab.ListenerOn("127.0.0.1", port)
		_, v6 := tab.ListenerOn("::1", port)
		return v4 || v6
	}
	rec.SesmanPort = 0
	if oldPort != 0 && !usedPorts[oldPort] && (keep || !held(oldPort)) {
		rec.SesmanPort = oldPort
	}
	for p := sesmanPortFirst; rec.SesmanPort == 0 && p <= sesmanPortLast; p++ {
		if !usedPorts[p] && !held(p) {
			rec.SesmanPort = p
		}
	}
	if rec.SesmanPort == 0 {
		return fmt.Errorf("process: %s: no free port for its xrdp-sesman in %d-%d", name, sesmanPortFirst, sesmanPortLast)
	}

	need := max(rec.Settings.MaxSessions, 1)
	// clash returns the end of a block that [off, off+need] overlaps, or 0.
	clash := func(off int) int {
		for _, b := range blocks {
			if off <= b[1] && b[0] <= off+need {
				return b[1]
			}
		}
		return 0
	}
	rec.DisplayOffset = 0
	if oldOffset != 0 && oldOffset+need <= displayLast && clash(oldOffset) == 0 {
		rec.DisplayOffset = oldOffset
	}
	for off := displayFirst; rec.DisplayOffset == 0 && off+need <= displayLast; {
		if end := clash(off); end != 0 {
			off = end + 1
			continue
		}
		rec.DisplayOffset = off
	}
	if rec.DisplayOffset == 0 {
		return fmt.Errorf("process: %s: no block of %d free X displays left in %d-%d: the process servers' sessions.max add up to more than xrdp 0.9 can number; lower some",
			name, need+1, displayFirst, displayLast)
	}
	if d.reserved == nil {
		d.reserved = map[string]reservation{}
	}
	first, last := rec.displays()
	d.reserved[name] = reservation{port: rec.SesmanPort, first: first, last: last}
	return nil
}
