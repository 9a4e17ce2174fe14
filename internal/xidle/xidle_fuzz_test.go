package xidle

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// authRecord is one entry of an authority file.
func authRecord(family uint16, fields ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, family)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// FuzzXauthority: any authority file (the user's own, so anything) reads
// without a panic, and a cookie found is a part of it; the cookie of a
// display is found before any other entry, past entries of other displays
// and of other protocols.
func FuzzXauthority(f *testing.F) {
	for _, b := range testenv.Samples(f, "xauthority") {
		f.Add(b, "10", []byte{0x00, 0x11, 0x22, 0x33})
	}
	f.Fuzz(func(t *testing.T, b []byte, number string, cookie []byte) {
		if got := findCookie(b, number); got != nil && (len(got) == 0 || !bytes.Contains(b, got)) {
			t.Fatalf("cookie %x is not in the file", got)
		}
		if len(number) > 0xffff || len(cookie) == 0 || len(cookie) > 0xffff {
			return
		}
		file := authRecord(0x0100, []byte("vm"), []byte(number+"0"), []byte("MIT-MAGIC-COOKIE-1"), []byte("another display"))
		file = append(file, authRecord(0xffff, nil, []byte(number), []byte("XDM-AUTHORIZATION-1"), []byte("another protocol"))...)
		file = append(file, authRecord(0x0100, []byte("vm"), []byte(number), []byte("MIT-MAGIC-COOKIE-1"), cookie)...)
		if got := findCookie(append(file, b...), number); !bytes.Equal(got, cookie) {
			t.Fatalf("display %q: cookie %x; want %x", number, got, cookie)
		}
	})
}

// x11Server plays an X server's side of query: it answers from what it was
// given and keeps what query wrote.
type x11Server struct {
	io.Reader
	wrote bytes.Buffer
}

func (s *x11Server) Write(p []byte) (int, error) { return s.wrote.Write(p) }

// FuzzX11Replies: any bytes from the X server (the session's user runs it,
// so anything) end query without a panic; a server that answers as the
// protocol says, with any vendor string, formats, events between the
// replies, extension opcode and figures, is asked about its first screen's
// root window with the extension's opcode, and its idle time is read back.
func FuzzX11Replies(f *testing.F) {
	for _, b := range testenv.Samples(f, "x11") {
		f.Add(b, []byte("The X.Org Foundation"), byte(7), uint32(0x3ee), byte(146), byte(2), uint32(4))
	}
	f.Fuzz(func(t *testing.T, replies, vendor []byte, formats byte, root uint32, opcode, events byte, ms uint32) {
		_, _ = query(&x11Server{Reader: bytes.NewReader(replies)}, []byte("cookie"))

		le := binary.LittleEndian
		if len(vendor) > 0xffff {
			return
		}
		// The connection setup reply: its fixed part, the vendor, the
		// formats, then the first screen, whose first word is its root.
		body := make([]byte, 32)
		le.PutUint16(body[16:], uint16(len(vendor)))
		body[20], body[21] = 1, formats
		body = append(body, vendor...)
		body = append(body, make([]byte, pad(len(vendor))-len(vendor)+8*int(formats))...)
		body = le.AppendUint32(body, root)
		body = append(body, make([]byte, 36)...)
		head := []byte{1, 0, 11, 0, 0, 0, 0, 0}
		le.PutUint16(head[6:], uint16(len(body)/4))
		script := append(head, body...)
		event := func(i int) []byte { e := make([]byte, 32); e[0] = byte(2 + i%60); return e }
		for i := range int(events % 4) {
			script = append(script, event(i)...)
		}
		ext := make([]byte, 32)
		ext[0], ext[8], ext[9] = 1, 1, opcode
		script = append(script, ext...)
		for i := range int(events / 4 % 4) {
			script = append(script, event(i)...)
		}
		info := make([]byte, 32)
		info[0] = 1
		le.PutUint32(info[16:], ms)
		script = append(script, info...)

		srv := &x11Server{Reader: bytes.NewReader(script)}
		got, err := query(srv, []byte("cookie"))
		if err != nil || got != ms {
			t.Fatalf("idle %d ms, %v; want %d ms", got, err, ms)
		}
		w := srv.wrote.Bytes()
		asked := w[len(w)-8:]
		if asked[0] != opcode || asked[1] != 1 || le.Uint32(asked[4:]) != root {
			t.Fatalf("ScreenSaverQueryInfo request % x; want opcode %d, minor 1, window %#x", asked, opcode, root)
		}
	})
}
