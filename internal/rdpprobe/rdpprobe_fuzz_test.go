package rdpprobe

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzConfirm: any answer to the probe's Connection Request reads without a
// panic and without reading past the 6 bytes that tell a Connection Confirm:
// a TPKT header (version 3) and an X.224 TPDU of code 0xD0 pass, an answer
// that is anything else is ErrNotRDP, and one shorter than that an error.
func FuzzConfirm(f *testing.F) {
	// A Connection Confirm choosing TLS, as MS-RDPBCGR 2.2.1.2 lays it out.
	f.Add([]byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0})
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add([]byte{0x03, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, answer []byte) {
		r := bytes.NewReader(answer)
		err := readConfirm(r)
		if unread := r.Len(); unread != max(len(answer)-6, 0) {
			t.Fatalf("%d of %d bytes read", len(answer)-unread, len(answer))
		}
		switch {
		case len(answer) < 6:
			if err == nil || errors.Is(err, ErrNotRDP) {
				t.Fatalf("%d bytes: %v; want a read error", len(answer), err)
			}
		case answer[0] == 0x03 && answer[5]&0xF0 == 0xD0:
			if err != nil {
				t.Fatalf("% x: %v; want a Connection Confirm", answer[:6], err)
			}
		case !errors.Is(err, ErrNotRDP):
			t.Fatalf("% x: %v; want ErrNotRDP", answer[:6], err)
		}
	})
}
