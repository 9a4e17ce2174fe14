package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroupRoot is where the cgroup filesystems are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// CgroupUsage returns the CPU time and memory of the cgroup process pid is in,
// as docker stats counts them: memory in use less the inactive file cache.
// It reads cgroup v2 (the unified hierarchy) and v1 (the memory and cpuacct
// controllers); a container's cgroup counts every process in it, also those
// started by docker exec.
func CgroupUsage(pid int) (cpu time.Duration, memory uint64, err error) {
	b, err := readProc(pid, "cgroup")
	if err != nil {
		return 0, 0, err
	}
	paths := parseCgroups(b)
	if p, ok := paths[""]; ok && fileExists(filepath.Join(cgroupRoot, "cgroup.controllers")) {
		dir := filepath.Join(cgroupRoot, p)
		usec, err1 := statField(filepath.Join(dir, "cpu.stat"), "usage_usec")
		cur, err2 := readUint(filepath.Join(dir, "memory.current"))
		inactive, _ := statField(filepath.Join(dir, "memory.stat"), "inactive_file")
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, err
		}
		return time.Duration(usec) * time.Microsecond, cur - min(inactive, cur), nil
	}
	mp, ok1 := paths["memory"]
	cp, ok2 := paths["cpuacct"]
	if !ok1 || !ok2 {
		return 0, 0, errors.New("procfs: no memory and cpuacct cgroup for pid " + strconv.Itoa(pid))
	}
	ns, err1 := readUint(filepath.Join(cgroupRoot, "cpuacct", cp, "cpuacct.usage"))
	cur, err2 := readUint(filepath.Join(cgroupRoot, "memory", mp, "memory.usage_in_bytes"))
	inactive, _ := statField(filepath.Join(cgroupRoot, "memory", mp, "memory.stat"), "total_inactive_file")
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return time.Duration(ns), cur - min(inactive, cur), nil
}

// parseCgroups reads /proc/PID/cgroup: "ID:CONTROLLERS:PATH" lines. It returns
// each controller's path ("" is the unified hierarchy of cgroup v2).
func parseCgroups(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") || strings.Contains(parts[2], "..") {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// statField reads "NAME VALUE" from a cgroup stat file.
func statField(p, name string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	v, found, err := parseStatField(b, name)
	if !found {
		return 0, errors.New("procfs: no " + name + " in " + p)
	}
	return v, err
}

// parseStatField reads the value of the first "NAME VALUE" line called name
// in the text of a cgroup stat file (cpu.stat, memory.stat), and reports
// whether there is one.
func parseStatField(b []byte, name string) (uint64, bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == name {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, true, err
		}
	}
	return 0, false, nil
}
