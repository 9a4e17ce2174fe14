package drivers

import (
	"net"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

func TestSessionSockets(t *testing.T) {
	conn := func(local string, port int) socktab.Socket {
		return socktab.Socket{Local: net.ParseIP(local), LocalPort: port, Remote: net.ParseIP("192.0.2.7"), RemotePort: 50000 + port}
	}
	tab := &socktab.Table{Established: []socktab.Socket{
		conn("127.0.0.1", 13389), conn("127.0.0.1", 13389), // two on a
		conn("127.0.0.2", 13390), // b listens on 127.0.0.1 only: not b's
		conn("10.0.0.5", 13391),  // c listens on every address
		conn("127.0.0.1", 9999),  // nobody's
	}}
	ins := []Instance{
		{Name: "a", Config: Config{Address: "127.0.0.1", Port: 13389}},
		{Name: "b", Config: Config{Address: "127.0.0.1", Port: 13390}},
		{Name: "c", State: StateExited, Config: Config{Address: "0.0.0.0", Port: 13391}}, // drained: still counted
	}
	got := CountSessionSockets(ins, tab)
	if got["a"] != 2 || got["b"] != 0 || got["c"] != 1 || len(got) != 3 {
		t.Errorf("counts = %v; want a=2 b=0 c=1", got)
	}
}
