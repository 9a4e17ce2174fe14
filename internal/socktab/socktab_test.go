package socktab

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:343D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:343D 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:343D 0100007F:C351 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0000000000000000
`
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0D3D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
`
	_ = os.WriteFile(filepath.Join(dir, "tcp"), []byte(tcp), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "tcp6"), []byte(tcp6), 0o644)
	tab, err := ReadFrom(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Listening) != 2 || len(tab.Established) != 1 {
		t.Fatalf("listening %d established %d; want 2 and 1 (TIME_WAIT skipped)", len(tab.Listening), len(tab.Established))
	}
	l := tab.Listening[0]
	if !l.Local.Equal(net.ParseIP("127.0.0.1")) || l.LocalPort != 13373 || l.Inode != 1111 {
		t.Errorf("listener = %+v", l)
	}
	e := tab.Established[0]
	if e.RemotePort != 50000 || e.LocalPort != 13373 {
		t.Errorf("established = %+v", e)
	}
	if !tab.Listening[1].Local.IsUnspecified() || tab.Listening[1].LocalPort != 3389 {
		t.Errorf("tcp6 listener = %+v", tab.Listening[1])
	}
	if _, ok := tab.ListenerOn("127.0.0.1", 3389); !ok {
		t.Error("a wildcard listener on 3389 must clash with 127.0.0.1:3389")
	}
	if _, ok := tab.ListenerOn("127.0.0.2", 13373); ok {
		t.Error("127.0.0.1:13373 must not clash with 127.0.0.2:13373")
	}
}

// TestReadLive reads this machine's table and finds a listener this test opens.
func TestReadLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	tab, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := tab.ListenerOn("127.0.0.1", port)
	if !ok {
		t.Fatalf("own listener on %d not found", port)
	}
	h := Holders([]uint64{s.Inode})[s.Inode]
	if h.PID != os.Getpid() {
		t.Errorf("holder = %+v; want pid %d", h, os.Getpid())
	}
}
