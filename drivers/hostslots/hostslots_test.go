package hostslots

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestReserveSharesNothingAcrossDrivers(t *testing.T) {
	var p Pool
	// The process driver's records hold one slot, the docker driver's files
	// another; a new server of either gets neither's port or displays.
	p.Source("process", func() map[string]Slot {
		return map[string]Slot{"process/a": {SesmanPort: 3400, First: 100, Last: 105}}
	})
	p.Source("docker", func() map[string]Slot {
		return map[string]Slot{"docker/k": {SesmanPort: 3401, First: 106, Last: 108}}
	})
	got, err := p.Reserve(Request{Key: "docker/new", Need: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Slot{SesmanPort: 3402, First: 109, Last: 111}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Its reservation counts before any record names it.
	got2, err := p.Reserve(Request{Key: "process/b", Need: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Slot{SesmanPort: 3403, First: 112, Last: 113}); got2 != want {
		t.Fatalf("got %+v, want %+v", got2, want)
	}
	// Released, its slot is free again.
	p.Release("docker/new")
	got3, err := p.Reserve(Request{Key: "process/c", Need: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Slot{SesmanPort: 3402, First: 109, Last: 111}); got3 != want {
		t.Fatalf("after release got %+v, want %+v", got3, want)
	}
}

func TestReserveKeepsWhatTheServerHad(t *testing.T) {
	var p Pool
	p.Source("process", func() map[string]Slot {
		return map[string]Slot{
			"process/a": {SesmanPort: 3410, First: 300, Last: 302}, // its own record
			"process/b": {SesmanPort: 3400, First: 100, Last: 110},
		}
	})
	listening := func(port int) bool { return port == 3410 } // a's live sesman
	got, err := p.Reserve(Request{Key: "process/a", Need: 2, Old: Slot{SesmanPort: 3410, First: 300}, Keep: true, Listening: listening})
	if err != nil || got != (Slot{SesmanPort: 3410, First: 300, Last: 302}) {
		t.Fatalf("kept: got %+v, %v", got, err)
	}
	// Without a live sesman of its own, a port something else listens on is not taken.
	got, err = p.Reserve(Request{Key: "process/a", Need: 2, Old: Slot{SesmanPort: 3410, First: 300}, Listening: listening})
	if err != nil || got.SesmanPort != 3401 || got.First != 300 {
		t.Fatalf("port held by another program: got %+v, %v", got, err)
	}
	// A larger max that no longer fits at the old offset moves the block.
	p.Source("docker", func() map[string]Slot { return map[string]Slot{"docker/k": {First: 304, Last: 310}} })
	got, err = p.Reserve(Request{Key: "process/a", Need: 5, Old: Slot{SesmanPort: 3410, First: 300}, Keep: true, Listening: listening})
	if err != nil || got.First != 111 || got.Last != 116 {
		t.Fatalf("wider block: got %+v, %v", got, err)
	}
}

func TestReserveSideBySide(t *testing.T) {
	var p Pool
	p.Source("process", func() map[string]Slot { return nil })
	var mu sync.Mutex
	ports, displays := map[int]string{}, map[int]string{}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			key := fmt.Sprintf("docker/s%d", i)
			s, err := p.Reserve(Request{Key: key, Need: 3})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, ok := ports[s.SesmanPort]; ok {
				t.Errorf("%s and %s share port %d", key, other, s.SesmanPort)
			}
			ports[s.SesmanPort] = key
			for n := s.First; n <= s.Last; n++ {
				if other, ok := displays[n]; ok {
					t.Errorf("%s and %s share display %d", key, other, n)
				}
				displays[n] = key
			}
		})
	}
	wg.Wait()
}

func TestReserveRunsOut(t *testing.T) {
	var p Pool
	if _, err := p.Reserve(Request{Key: "process/huge", Need: DisplayLast - DisplayFirst + 1}); !errors.Is(err, ErrNoDisplays) {
		t.Fatalf("a block wider than the range: %v", err)
	}
	all := func(int) bool { return true }
	if _, err := p.Reserve(Request{Key: "process/a", Need: 1, Listening: all}); !errors.Is(err, ErrNoPort) {
		t.Fatalf("every port held: %v", err)
	}
}

func TestReserveAvoidsLiveXServers(t *testing.T) {
	var p Pool
	// Another state folder's X server runs on :102, and the host's own
	// desktop's socket is abstract; neither is in any driver's holdings.
	inUse := XSockets(map[string]bool{"/tmp/.X11-unix/X102": true, "/tmp/.X11-unix/X201": true})
	got, err := p.Reserve(Request{Key: "docker/a", Need: 2, XInUse: inUse})
	if err != nil || got.First != 103 {
		t.Fatalf("got %+v, %v; want a block from 103", got, err)
	}
	// A live server keeps its block with its own X servers in it; one that
	// starts afresh leaves a block where an X server runs.
	got, err = p.Reserve(Request{Key: "process/b", Need: 3, Old: Slot{First: 200, Last: 203}, Keep: true, XInUse: inUse})
	if err != nil || got.First != 200 {
		t.Fatalf("kept block: got %+v, %v", got, err)
	}
	got, err = p.Reserve(Request{Key: "process/b", Need: 3, Old: Slot{First: 200, Last: 203}, XInUse: inUse})
	if err != nil || got.First != 106 {
		t.Fatalf("fresh start: got %+v, %v; want a block from 106", got, err)
	}
	// Widened, a live server's block may not take in another's X server.
	got, err = p.Reserve(Request{Key: "process/c", Need: 5, Old: Slot{First: 197, Last: 199}, Keep: true, XInUse: inUse})
	if err != nil || got.First == 197 {
		t.Fatalf("widened over :201: got %+v, %v", got, err)
	}
}

func TestReserveMovingKeepsTheOldSlotTaken(t *testing.T) {
	var p Pool
	// a's record still says 100-102 while its new block is reserved: both
	// stay taken until the record takes the new one.
	p.Source("process", func() map[string]Slot {
		return map[string]Slot{"process/a": {SesmanPort: 3400, First: 100, Last: 102}}
	})
	if _, err := p.Reserve(Request{Key: "process/a", Need: 5, Old: Slot{SesmanPort: 3400, First: 100, Last: 102}, Keep: true,
		XInUse: func(n int) bool { return n == 105 }}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Reserve(Request{Key: "docker/b", Need: 1})
	if err != nil || got.SesmanPort == 3400 || got.First <= 102 {
		t.Fatalf("got %+v, %v: a's old slot was given away while it moves", got, err)
	}
}
