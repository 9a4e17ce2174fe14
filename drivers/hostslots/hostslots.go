// Package hostslots hands out what each xrdp server in the host's network
// namespace needs for itself: a loopback port for its own xrdp-sesman and a
// block of X displays. Process servers live in that namespace, and so do the
// containers of docker servers with network = "host": X servers there share
// the abstract sockets @/tmp/.X11-unix/XN and the TCP ports sesman tests for
// each display, so two servers given one display would race for it. All of
// them draw from one Pool, which sees every driver's holdings.
package hostslots

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// Where the servers' sesmans listen and which X displays they use. None meets
// Debian's own sesman (port 3350, displays from 10).
const (
	SesmanPortFirst = 3400
	SesmanPortLast  = 3999
	DisplayFirst    = 100
	// DisplayLast: sesman tests TCP ports "59NN", "60NN" and "62NN" for display
	// NN, and past 999 those are no ports, so every display looks taken.
	DisplayLast = 999
)

// Slot is one server's sesman port and block of displays First..Last.
type Slot struct {
	SesmanPort int `json:"sesman_port"`
	First      int `json:"display_first"`
	Last       int `json:"display_last"`
}

// Block returns the displays a server with sessions.max maxSessions uses
// from offset: sesman takes at most max+1.
func Block(offset, maxSessions int) (first, last int) { return offset, offset + max(maxSessions, 1) }

// Holdings returns the slots a driver's lasting state holds (its records, its
// containers' files), by key.
type Holdings func() map[string]Slot

// Pool hands out slots. Its zero value is ready, and holds what it reserved
// itself; each driver adds its holdings with Source.
type Pool struct {
	mu       sync.Mutex
	reserved map[string]Slot
	sources  map[string]Holdings
}

// Source adds (or replaces) the holdings of one driver.
func (p *Pool) Source(driver string, h Holdings) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sources == nil {
		p.sources = map[string]Holdings{}
	}
	p.sources[driver] = h
}

// Request is what a server needs.
type Request struct {
	// Key names the server across drivers: "DRIVER/NAME".
	Key string
	// Need: the block is [offset, offset+Need], Need = max(sessions.max, 1).
	Need int
	// Old is what the server had (zero: nothing); it is kept where it can be.
	Old Slot
	// Keep: Old's sesman is alive, so it keeps its port whatever Listening
	// says, and the X servers on Old's displays are its own sessions'.
	Keep bool
	// Listening reports whether a program listens on loopback port.
	Listening func(port int) bool
	// XInUse reports whether an X server runs on display n in the host's
	// network (one of another state folder's servers, the host's own
	// desktop): a block is chosen without such displays, but for Old's own
	// when Keep.
	XInUse func(n int) bool
}

// Loopback returns a Request.Listening that looks in tab, the host's
// listening sockets, for a listener on 127.0.0.1 or ::1 (sesman binds one).
func Loopback(tab *socktab.Table) func(port int) bool {
	return func(port int) bool {
		_, v4 := tab.ListenerOn("127.0.0.1", port)
		_, v6 := tab.ListenerOn("::1", port)
		return v4 || v6
	}
}

// XSockets returns a Request.XInUse that looks in the host's listening Unix
// sockets (socktab.ListeningUnixPaths) for an X server's, by path or
// abstract name.
func XSockets(listening map[string]bool) func(n int) bool {
	return func(n int) bool { return listening["/tmp/.X11-unix/X"+strconv.Itoa(n)] }
}

// ErrNoPort and ErrNoDisplays say which part of a slot ran out.
var (
	ErrNoPort     = errors.New("no free port")
	ErrNoDisplays = errors.New("no free displays")
)

// Reserve gives r a slot no other key holds or reserved: Old's port when no
// other holds it (and, unless Keep, nothing listens there), Old's block when
// it is still wide enough and free, else the lowest free ones. The choice is
// reserved under one lock, so servers started side by side never share; the
// driver's lasting state takes it over once the server runs.
func (p *Pool) Reserve(r Request) (Slot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Both what other servers' lasting state holds and what they reserved
	// count: while a server moves (a wider block), its old slot is in its
	// record and its new one reserved, and its sesman may use either.
	var taken []Slot
	for _, driver := range slices.Sorted(maps.Keys(p.sources)) {
		for key, s := range p.sources[driver]() {
			if key != r.Key {
				taken = append(taken, s)
			}
		}
	}
	for key, s := range p.reserved {
		if key != r.Key {
			taken = append(taken, s)
		}
	}
	usedPorts := map[int]bool{}
	var blocks []Slot
	for _, s := range taken {
		if s.SesmanPort != 0 {
			usedPorts[s.SesmanPort] = true
		}
		if s.First != 0 {
			blocks = append(blocks, s)
		}
	}
	listening, xInUse := r.Listening, r.XInUse
	if listening == nil {
		listening = func(int) bool { return false }
	}
	if xInUse == nil {
		xInUse = func(int) bool { return false }
	}
	var got Slot
	if r.Old.SesmanPort != 0 && !usedPorts[r.Old.SesmanPort] && (r.Keep || !listening(r.Old.SesmanPort)) {
		got.SesmanPort = r.Old.SesmanPort
	}
	for port := SesmanPortFirst; got.SesmanPort == 0 && port <= SesmanPortLast; port++ {
		if !usedPorts[port] && !listening(port) {
			got.SesmanPort = port
		}
	}
	if got.SesmanPort == 0 {
		return Slot{}, fmt.Errorf("%w for its xrdp-sesman in %d-%d", ErrNoPort, SesmanPortFirst, SesmanPortLast)
	}
	need := max(r.Need, 1)
	// clash returns the end of a block that [off, off+need] overlaps, or 0;
	// with x, a display an X server uses counts as a block of one.
	clash := func(off int, x bool) int {
		for _, b := range blocks {
			if off <= b.Last && b.First <= off+need {
				return b.Last
			}
		}
		for n := off; x && n <= off+need; n++ {
			if r.Keep && n >= r.Old.First && n <= r.Old.Last {
				continue // the server's own sessions
			}
			if xInUse(n) {
				return n
			}
		}
		return 0
	}
	if off := r.Old.First; off != 0 && off+need <= DisplayLast && clash(off, true) == 0 {
		got.First = off
	}
	for off := DisplayFirst; got.First == 0 && off+need <= DisplayLast; {
		if end := clash(off, true); end != 0 {
			off = end + 1
			continue
		}
		got.First = off
	}
	if got.First == 0 {
		return Slot{}, fmt.Errorf("%w: no block of %d X displays left in %d-%d: the sessions.max of the servers in the host's network (process servers, and docker servers with network = \"host\") add up to more than xrdp 0.9 can number; lower some",
			ErrNoDisplays, need+1, DisplayFirst, DisplayLast)
	}
	got.Last = got.First + need
	if p.reserved == nil {
		p.reserved = map[string]Slot{}
	}
	p.reserved[r.Key] = got
	return got, nil
}

// Share is one driver's part in a Pool: the pool the caller gave it (Use),
// else one of its own, which sees the driver's holdings either way. Its
// keys are "DRIVER/NAME".
type Share struct {
	driver   string
	holdings Holdings

	mu   sync.Mutex
	pool *Pool
}

// NewShare returns the share of driver, whose lasting state holds h.
func NewShare(driver string, h Holdings) *Share { return &Share{driver: driver, holdings: h} }

// Use makes the driver draw from p, which then sees its holdings. Call it
// before the first Reserve.
func (s *Share) Use(p *Pool) {
	p.Source(s.driver, s.holdings)
	s.mu.Lock()
	s.pool = p
	s.mu.Unlock()
}

func (s *Share) get() *Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		s.pool = &Pool{}
		s.pool.Source(s.driver, s.holdings)
	}
	return s.pool
}

// Key is server name's key in the pool.
func (s *Share) Key(name string) string { return s.driver + "/" + name }

// Reserve gives server name a slot of need+1 displays (need: its
// sessions.max), keeping old's where it can (see Pool.Reserve); keep: old's
// sesman is alive. tab is the host's listening sockets (nil: read here); the
// X servers' sockets are read here.
func (s *Share) Reserve(name string, need int, old Slot, keep bool, tab *socktab.Table) (Slot, error) {
	if tab == nil {
		var err error
		if tab, err = socktab.ReadListening(); err != nil {
			tab = &socktab.Table{}
		}
	}
	got, err := s.get().Reserve(Request{
		Key: s.Key(name), Need: need, Old: old, Keep: keep,
		Listening: Loopback(tab),
		XInUse:    XSockets(socktab.ListeningUnixPaths()),
	})
	if err != nil {
		return got, fmt.Errorf("%s: %s: %w", s.driver, name, err)
	}
	return got, nil
}

// Release forgets server name's reservation (its server is gone).
func (s *Share) Release(name string) { s.get().Release(s.Key(name)) }

// Release forgets key's reservation (its server is gone).
func (p *Pool) Release(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.reserved, key)
}
