// Package loopdial dials TCP addresses without ever connecting to itself.
//
// A dial from 127.0.0.1 to a loopback port nobody listens on yet (a server,
// or an agent, still starting) can pick that very port as its source and
// connect to itself, and then hold the port so the server cannot bind it.
// From another address it cannot; Linux dials every other 127/8 address from
// 127.0.0.1, so only that one is exposed, and Dial dials it from 127.0.0.2.
// A dial that connected to itself all the same (::1 has no other address to
// dial from) lets go of the port at once and fails.
package loopdial

import (
	"context"
	"fmt"
	"net"
)

// Dial is net.Dialer.DialContext that never returns a connection to itself.
// Its signature is http.Transport.DialContext's.
func Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	if host, _, err := net.SplitHostPort(address); err == nil && host == "127.0.0.1" {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	}
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if conn.LocalAddr().String() == conn.RemoteAddr().String() {
		conn.Close()
		return nil, fmt.Errorf("dial %s: nobody listens (the dial connected to itself)", address)
	}
	return conn, nil
}
