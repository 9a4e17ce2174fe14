package drivers

import (
	"bufio"
	"context"
	"io"
	"os"
	"regexp"
	"sync"
	"syscall"
)

// Refusal is a login that a server's own sesman turned away by policy.
type Refusal struct {
	Server string
	User   string
	// Reason is "max": the server had sessions.max sessions already.
	Reason string
}

// RefusalReporter is implemented by drivers that read their servers' sesman
// logs for logins turned away by policy. Each call returns those logged since
// the last call (the first call only finds where each log ends). host is the
// pass's look at the host.
type RefusalReporter interface {
	Refusals(ctx context.Context, instances []Instance, host *Host) []Refusal
}

// maxRefused is what xrdp-sesman 0.9 logs when sessions.max turns a login
// away (sesman/session.c).
var maxRefused = regexp.MustCompile(`max concurrent session limit exceeded\. login for user (\S*) denied`)

// LogTail follows the sesman log of each server from where it last read.
type LogTail struct {
	mu sync.Mutex
	at map[string]tailAt
}

type tailAt struct {
	ino uint64
	off int64
}

// maxTailRead bounds what one call reads of one log.
const maxTailRead = 1 << 20

// Read returns the refusals that server's log f holds past the last read,
// and closes f. A log seen for the first time, or replaced or truncated since
// (rotated), is read from its end, or from its start, respectively.
func (t *LogTail) Read(server string, f *os.File) []Refusal {
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	t.mu.Lock()
	if t.at == nil {
		t.at = map[string]tailAt{}
	}
	prev, seen := t.at[server]
	t.mu.Unlock()
	switch {
	case !seen:
		t.set(server, tailAt{ino, st.Size()})
		return nil
	case prev.ino != ino || st.Size() < prev.off:
		prev = tailAt{ino, 0}
	}
	if _, err := f.Seek(prev.off, io.SeekStart); err != nil {
		return nil
	}
	out, n := readRefusals(server, io.LimitReader(f, maxTailRead))
	off := prev.off + n
	if off == prev.off && st.Size()-prev.off >= maxTailRead {
		off += maxTailRead // a line longer than a read is no sesman line: skip it
	}
	t.set(server, tailAt{ino, off})
	return out
}

// readRefusals returns the refusals that the whole lines of r, server's
// sesman log from some point on, hold, and how many bytes those lines take:
// a partial last line is left to be read again next time.
func readRefusals(server string, r io.Reader) ([]Refusal, int64) {
	var out []Refusal
	var n int64
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return out, n
		}
		n += int64(len(line))
		if m := maxRefused.FindStringSubmatch(line); m != nil {
			out = append(out, Refusal{Server: server, User: m[1], Reason: "max"})
		}
	}
}

// Forget drops what the tail knows of servers not in keep (removed ones).
func (t *LogTail) Forget(keep func(server string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for server := range t.at {
		if !keep(server) {
			delete(t.at, server)
		}
	}
}

func (t *LogTail) set(server string, at tailAt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.at[server] = at
}
