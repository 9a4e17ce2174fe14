package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// FuzzStat: the two readers of /proc/PID/stat (Snapshot's, and the one
// identities use) never panic, and agree on what both read: the command name
// and the start time, and that a zombie is no process.
func FuzzStat(f *testing.F) {
	for _, b := range testenv.Samples(f, "stat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseStat(7, b)
		comm, start, err := parseCommAndStart(b)
		if errors.Is(err, ErrNoProcess) && ok {
			t.Fatalf("a zombie for identities, process %+v for the snapshot", s)
		}
		if ok && err == nil && (comm != s.Comm || start != s.StartTime) {
			t.Fatalf("identities read %q started %d; the snapshot %q started %d", comm, start, s.Comm, s.StartTime)
		}
	})
}

// statStates are the states the kernel writes in field 3.
const statStates = "RSDTtXZPIKW"

// FuzzStatRoundTrip: a stat line as the kernel writes it, of any command
// name (spaces, parentheses and newlines included) and any figures, reads
// back as those figures; a zombie's or a dead process's is no process.
func FuzzStatRoundTrip(f *testing.F) {
	f.Add("init", byte(1), int32(0), uint64(1979), uint64(7411), uint64(640310), uint64(230842), uint64(21), uint64(2743))
	f.Add("a b) (c", byte(1), int32(16624), uint64(0), uint64(0), uint64(0), uint64(0), uint64(2332299), uint64(413))
	f.Add("python3", byte(6), int32(16642), uint64(0), uint64(0), uint64(0), uint64(0), uint64(2332336), uint64(0))
	f.Add("kworker/R-netns", byte(8), int32(2), uint64(0), uint64(0), uint64(0), uint64(0), uint64(21), uint64(0))
	f.Fuzz(func(t *testing.T, comm string, state byte, ppid int32, utime, stime, cutime, cstime, start, rss uint64) {
		st := statStates[int(state)%len(statStates)]
		// Fields 1 to 52, as fs/proc/array.c writes them.
		line := fmt.Sprintf("4242 (%s) %c %d 4242 4242 0 -1 4194304 146 0 0 0 %d %d %d %d 20 0 1 0 %d 2990080 %d "+
			"18446744073709551615 94656293408768 94656293426697 140735902754096 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 "+
			"94656293440784 94656293442048 94656333828096 140735902755501 140735902755517 140735902755517 140735902756843 0\n",
			comm, st, ppid, utime, stime, cutime, cstime, start, rss)
		s, ok := parseStat(4242, []byte(line))
		gotComm, gotStart, err := parseCommAndStart([]byte(line))
		if st == 'Z' || st == 'X' {
			if ok || !errors.Is(err, ErrNoProcess) {
				t.Fatalf("state %c: snapshot %v, identities %v; want no process for both", st, ok, err)
			}
			return
		}
		want := Stat{PID: 4242, PPID: int(ppid), Comm: comm, StartTime: start, CPUTicks: utime + stime + cutime + cstime, RSSPages: rss}
		if !ok || s != want {
			t.Fatalf("snapshot read %+v (%v); want %+v\nline: %q", s, ok, want, line)
		}
		if err != nil || gotComm != comm || gotStart != start {
			t.Fatalf("identities read %q started %d (%v); want %q started %d", gotComm, gotStart, err, comm, start)
		}
	})
}

// FuzzCgroups: any /proc/PID/cgroup text gives paths that are absolute and
// never climb out of the hierarchy (".."); a well-formed line after it is
// read back, for each of its controllers ("" for cgroup v2's).
func FuzzCgroups(f *testing.F) {
	for _, b := range testenv.Samples(f, "cgroup") {
		f.Add(b, "memory", "/docker/4f2c9e1b7a3d")
		f.Add(b, "", "/system.slice/docker-4f2c.scope")
		f.Add(b, "cpu,cpuacct", "/")
	}
	f.Fuzz(func(t *testing.T, b []byte, controllers, path string) {
		for c, p := range parseCgroups(b) {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
				t.Fatalf("controller %q: path %q", c, p)
			}
		}
		if strings.ContainsAny(controllers, ":\n") || strings.Contains(path, "\n") || !strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
			return // not a line the kernel writes
		}
		got := parseCgroups(append(append(bytes.Clone(b), "\n99:"+controllers+":"...), path...))
		names := strings.Split(controllers, ",")
		if controllers == "" {
			names = []string{""}
		}
		for _, c := range names {
			if got[c] != path {
				t.Fatalf("controller %q: %q; want %q (line %q)", c, got[c], path, "99:"+controllers+":"+path)
			}
		}
	})
}

// FuzzCgroupStatField: any cgroup stat file (cpu.stat, memory.stat) reads
// without a panic, and a "NAME VALUE" line before it is what it gives for
// NAME.
func FuzzCgroupStatField(f *testing.F) {
	for _, b := range testenv.Samples(f, "cgroupstat") {
		f.Add(b, "usage_usec", uint64(9269074907))
		f.Add(b, "inactive_file", uint64(21942272))
		f.Add(b, "total_inactive_file", uint64(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, name string, value uint64) {
		if v, found, err := parseStatField(b, name); !found && (v != 0 || err != nil) {
			t.Fatalf("%q not found, yet %d, %v", name, v, err)
		}
		if name == "" || len(name) > 1024 || strings.ContainsAny(name, " \n") {
			return // not a name of a stat file
		}
		line := fmt.Sprintf("%s %d\n", name, value)
		if v, found, err := parseStatField(append([]byte(line), b...), name); !found || err != nil || v != value {
			t.Fatalf("%q: %d, %v, %v; want %d", line, v, found, err, value)
		}
	})
}

// FuzzProcText: the small readers of kernel text never panic, and each reads
// back what it is given in the kernel's shape: the real uid of
// /proc/PID/status, the arguments of /proc/PID/cmdline, the boot time of
// /proc/stat, the inode of a socket's fd link, and the names of a passwd file
// (a container's, which its users may write).
func FuzzProcText(f *testing.F) {
	seeds := [][]byte{[]byte("Xorg\x00:10\x00-auth\x00.Xauthority\x00"), []byte("socket:[2560843]")}
	for _, dir := range []string{"status", "procstat", "passwd"} {
		seeds = append(seeds, testenv.Samples(f, dir)...)
	}
	for _, b := range seeds {
		f.Add(b, uint64(1001), "ann")
	}
	f.Fuzz(func(t *testing.T, b []byte, n uint64, word string) {
		parseUID(b)
		parseCmdline(b)
		parseBootTime(b)
		parsePasswd(b)
		socketInode(string(b))

		uid := int(n >> 33) // uids are 32-bit
		if got, err := parseUID(fmt.Appendf(nil, "Name:\tx\nUid:\t%d\t%d\t%d\t%d\n%s", uid, uid, uid, uid, b)); err != nil || got != uid {
			t.Fatalf("uid %d, %v; want %d", got, err, uid)
		}
		if args := strings.Split(word, "\x00"); word != "" {
			if got := parseCmdline([]byte(word + "\x00")); !reflect.DeepEqual(got, args) {
				t.Fatalf("cmdline %q; want %q", got, args)
			}
		}
		secs := int64(n >> 1)
		if got := parseBootTime(fmt.Appendf(bytes.Clone(b), "\nbtime %d\n", secs)); !got.Equal(time.Unix(secs, 0)) {
			t.Fatalf("btime %d read as %v", secs, got)
		}
		if ino, ok := socketInode(fmt.Sprintf("socket:[%d]", n)); !ok || ino != n {
			t.Fatalf("socket:[%d] read as %d, %v", n, ino, ok)
		}
		if !strings.ContainsAny(word, ":\n") {
			if got := parsePasswd(fmt.Appendf(nil, "%[1]s:x:%[2]d:%[2]d::/home/%[1]s:/bin/sh\n%[3]s", word, uid, b)); got[uid] != word {
				t.Fatalf("uid %d named %q; want %q", uid, got[uid], word)
			}
		}
	})
}
