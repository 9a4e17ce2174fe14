// Package rdpprobe asks an RDP server whether it is up, the way a client would:
// it sends an X.224 Connection Request and expects a Connection Confirm.
// A TCP connect alone is not enough: a wedged listener still accepts.
package rdpprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/loopdial"
)

// connectionRequest is a TPKT-framed X.224 Connection Request carrying an RDP
// Negotiation Request for TLS and CredSSP (requestedProtocols = 3).
var connectionRequest = []byte{
	0x03, 0x00, 0x00, 0x13, // TPKT: version 3, length 19
	0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224: LI 14, CR, dst-ref, src-ref, class 0
	0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, // RDP_NEG_REQ, flags 0, length 8, protocols 3
}

// ErrNotRDP reports a peer that answered, but not with a Connection Confirm.
var ErrNotRDP = errors.New("rdpprobe: no X.224 Connection Confirm")

// Probe dials address:port and checks for an X.224 Connection Confirm.
func Probe(ctx context.Context, address string, port int) error {
	host := address
	if ip := net.ParseIP(address); ip == nil || ip.IsUnspecified() {
		// A wildcard listener answers on loopback too.
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := loopdial.Dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("rdpprobe: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(connectionRequest); err != nil {
		return fmt.Errorf("rdpprobe: %w", err)
	}
	return readConfirm(conn)
}

// readConfirm reads the start of the answer to connectionRequest from r: it
// must be a TPKT header and an X.224 Connection Confirm.
func readConfirm(r io.Reader) error {
	var hdr [6]byte // TPKT (4) + X.224 length indicator + TPDU code
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("rdpprobe: reading the answer: %w", err)
	}
	if hdr[0] != 0x03 || hdr[5]&0xF0 != 0xD0 {
		return ErrNotRDP
	}
	return nil
}
