// Command rdpresponder is a stand-in RDP server for fast docker tests: it
// answers an X.224 Connection Request with a Connection Confirm and then holds
// the connection open, like a session, until the client leaves. It listens
// where xrdp would: on the `port` of /etc/xrdp/xrdp.ini when lucid-rdp mounted
// one there (tcp://ADDRESS:PORT, or a bare port), else on :3389. It is built
// static and imported as a one-file image; it is not xrdp, and the tests that
// need xrdp itself use the image from images/xrdp.
package main

import (
	"bufio"
	"io"
	"log"
	"net"
	"os"
	"strings"
)

// confirm is a TPKT-framed X.224 Connection Confirm with an RDP Negotiation
// Response selecting TLS.
var confirm = []byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00,
	0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00}

// listenAddress reads [Globals] port= from xrdp.ini as xrdp 0.9 takes it.
func listenAddress() string {
	f, err := os.Open("/etc/xrdp/xrdp.ini")
	if err != nil {
		return ":3389"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "port=")
		if !ok {
			continue
		}
		for _, scheme := range []string{"tcp://", "tcp6://"} {
			v = strings.TrimPrefix(v, scheme)
		}
		if !strings.Contains(v, ":") {
			v = ":" + v
		}
		return v // the first port= is [Globals]'s
	}
	return ":3389"
}

func main() {
	ln, err := net.Listen("tcp", listenAddress())
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			var hdr [4]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 0x03 {
				return
			}
			n := int(hdr[2])<<8 | int(hdr[3])
			if n < 4 || n > 4096 {
				return
			}
			if _, err := io.CopyN(io.Discard, c, int64(n-4)); err != nil {
				return
			}
			if _, err := c.Write(confirm); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c) // hold the "session" until the client leaves
		}()
	}
}
