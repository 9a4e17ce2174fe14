package process

import (
	"fmt"
	"testing"
)

// FuzzLockPID: any X lock file (/tmp is anyone's: it may hold anything)
// reads without a panic; one as Xorg writes it ("%10d\n") reads back as its
// pid.
func FuzzLockPID(f *testing.F) {
	f.Add([]byte("     16145\n"), int32(16145))
	f.Add([]byte("   4194304\n"), int32(4194304))
	f.Add([]byte("\x00\x00\x00\x00"), int32(-1))
	f.Fuzz(func(t *testing.T, b []byte, pid int32) {
		parseLockPID(b)
		lock := fmt.Sprintf("%10d\n", pid)
		if got, ok := parseLockPID([]byte(lock)); !ok || got != int(pid) {
			t.Fatalf("%q read as %d, %v", lock, got, ok)
		}
	})
}
