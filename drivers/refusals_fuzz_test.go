package drivers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// FuzzRefusals: any sesman log reads without a panic, up to the end of its
// last whole line; a refusal line among other lines is read back as its user;
// and a LogTail that reads the log in two parts, as sesman writes it, finds
// the same refusals as one read of the whole, and none again after.
func FuzzRefusals(f *testing.F) {
	files, _ := filepath.Glob("testdata/sesman/*.log")
	if len(files) == 0 {
		f.Fatal("no sesman logs in testdata/sesman")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2), "bob")
		f.Add(b[:len(b)-7], uint16(3), "ann") // a partial last line
	}
	path := filepath.Join(f.TempDir(), "xrdp-sesman.log")
	f.Fuzz(func(t *testing.T, log []byte, cut uint16, user string) {
		got, n := readRefusals("a", bytes.NewReader(log))
		if n > int64(len(log)) || (n > 0 && log[n-1] != '\n') || bytes.IndexByte(log[n:], '\n') >= 0 {
			t.Fatalf("read %d bytes of %d: not up to the end of the last whole line", n, len(log))
		}
		for _, r := range got {
			if r.Server != "a" || r.Reason != "max" || strings.ContainsAny(r.User, " \t\n\f\r") {
				t.Fatalf("refusal %+v", r)
			}
		}

		// One refusal among lines that hold none.
		if !strings.ContainsFunc(user, unicode.IsSpace) {
			var lines []string
			for _, l := range strings.Split(string(log), "\n") {
				if !maxRefused.MatchString(l) {
					lines = append(lines, l)
				}
			}
			at := int(cut) % (len(lines) + 1)
			refused := fmt.Sprintf("[20261123-05:46:02] [ERROR] max concurrent session limit exceeded. login for user %s denied", user)
			lines = append(lines[:at], append([]string{refused}, lines[at:]...)...)
			want := []Refusal{{Server: "a", User: user, Reason: "max"}}
			if got, _ := readRefusals("a", strings.NewReader(strings.Join(lines, "\n")+"\n")); !reflect.DeepEqual(got, want) {
				t.Fatalf("%q among other lines: read %+v", refused, got)
			}
		}

		// Written in two parts, read after each.
		if len(log) >= maxTailRead/2 {
			return
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var tail LogTail
		read := func() []Refusal { return readTail(t, &tail, path) }
		write := func(b []byte) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		read() // finds where the log ends
		at := min(int(cut), len(log))
		write(log[:at])
		parts := read()
		write(log[at:])
		parts = append(parts, read()...)
		if !reflect.DeepEqual(parts, got) {
			t.Fatalf("read in two parts (cut at %d): %+v; at once: %+v", at, parts, got)
		}
		if again := read(); len(again) > 0 {
			t.Fatalf("read again with nothing new: %+v", again)
		}
	})
}

// FuzzXServerArgs: any arguments of an X server (its /proc/PID/cmdline,
// split at NULs) give a display number without a panic; ":N" as the first
// argument that starts with ':' gives N, whatever comes before and after.
func FuzzXServerArgs(f *testing.F) {
	f.Add([]byte("/usr/lib/xorg/Xorg\x00:103\x00-auth\x00.Xauthority\x00-config\x00xrdp/xorg.conf\x00-noreset\x00-nolisten\x00tcp\x00-logfile\x00.xorgxrdp.%s.log\x00"), uint32(103), uint8(1))
	f.Add([]byte("Xvnc\x00:10\x00-auth\x00.Xauthority\x00-geometry\x001280x800\x00"), uint32(10), uint8(3))
	f.Fuzz(func(t *testing.T, cmdline []byte, n uint32, at uint8) {
		args := strings.Split(string(cmdline), "\x00")
		displayOf(args)
		// Up to at arguments of the cmdline that are not displays, then :N.
		withN := []string{"Xorg"}
		for _, a := range args {
			if len(withN) > int(at) || strings.HasPrefix(a, ":") {
				break
			}
			withN = append(withN, a)
		}
		withN = append(append(withN, ":"+strconv.FormatUint(uint64(n), 10)), args...)
		if got := displayOf(withN); got != int(n) {
			t.Fatalf("display :%d read as %d in %q", n, got, withN)
		}
	})
}
