package rdpprobe

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
)

// serve answers each connection with reply after reading a request.
func serve(t *testing.T, reply []byte) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, len(connectionRequest))
			if _, err := io.ReadFull(c, buf); err == nil && reply != nil {
				_, _ = c.Write(reply)
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestProbe(t *testing.T) {
	ctx := context.Background()
	cc := []byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0}
	if err := Probe(ctx, "127.0.0.1", serve(t, cc)); err != nil {
		t.Errorf("confirm: %v", err)
	}
	// An HTTP server (or anything else) answering is not RDP.
	if err := Probe(ctx, "127.0.0.1", serve(t, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))); !errors.Is(err, ErrNotRDP) {
		t.Errorf("http: %v; want ErrNotRDP", err)
	}
	// A listener that accepts and closes is not up.
	if err := Probe(ctx, "127.0.0.1", serve(t, nil)); err == nil {
		t.Error("accept-and-close passed")
	}
	// The wildcard address probes loopback.
	if err := Probe(ctx, "0.0.0.0", serve(t, cc)); err != nil {
		t.Errorf("wildcard: %v", err)
	}
}
