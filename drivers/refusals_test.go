package drivers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readTail opens path and reads it with tail, as server "a"'s log.
func readTail(t *testing.T, tail *LogTail, path string) []Refusal {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return tail.Read("a", f)
}

// TestLogTail: the first read finds the end; later reads count the refusals
// logged since, leave a partial line for next time, and start over on a
// rotated log.
func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xrdp-sesman.log")
	appendLog := func(s string) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	var tail LogTail
	read := func() []Refusal { return readTail(t, &tail, path) }
	refused := "[20261123-03:40:01] [ERROR] max concurrent session limit exceeded. login for user %s denied\n"
	appendLog("[INFO ] starting\n" + fmt.Sprintf(refused, "old"))
	if got := read(); len(got) != 0 {
		t.Fatalf("first read counted history: %v", got)
	}
	appendLog(fmt.Sprintf(refused, "bob") + "[INFO ] something else\n" + fmt.Sprintf(refused, "carol")[:30])
	if got := read(); len(got) != 1 || got[0] != (Refusal{Server: "a", User: "bob", Reason: "max"}) {
		t.Fatalf("after one refusal and a partial line: %v", got)
	}
	appendLog(fmt.Sprintf(refused, "carol")[30:])
	if got := read(); len(got) != 1 || got[0].User != "carol" {
		t.Fatalf("the partial line, completed: %v", got)
	}
	// Rotated as logrotate does: the old file renamed (so its inode lives
	// on), a new one started, already longer than where the old one was read
	// to, with the refusal near its start. Only its inode tells it is new.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	appendLog(fmt.Sprintf(refused, "dave") + strings.Repeat("[INFO ] padding\n", int(old.Size())/16+1))
	if got := read(); len(got) != 1 || got[0].User != "dave" {
		t.Fatalf("a rotated log is read from its start: %v", got)
	}
}

// TestLogTailSkipsLongLines: a line longer than one read is passed over, not
// read again at every call.
func TestLogTailSkipsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xrdp-sesman.log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var tail LogTail
	read := func() []Refusal { return readTail(t, &tail, path) }
	read()
	long := strings.Repeat("x", maxTailRead+10) + "\n"
	line := "max concurrent session limit exceeded. login for user eve denied\n"
	if err := os.WriteFile(path, []byte(long+line), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []Refusal
	for range 3 {
		got = append(got, read()...)
	}
	if len(got) != 1 || got[0].User != "eve" {
		t.Fatalf("after a long line: %v", got)
	}
}
