package agent

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// niced runs f on an OS thread of its own at a lower scheduling priority
// (nice 10), and waits for it. Parsing a hostile spec is CPU work that may
// take a few hundred milliseconds; at a lower priority it yields the CPU to
// the threads answering /health and /ready, which must answer within 100 ms
// on a 2-core machine whatever is being parsed. The thread is not reused: its
// goroutine ends locked to it, so it ends too, nice value and all.
func niced(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked, on purpose
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10)
		f()
	}()
	<-done
}
