package process

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// exitWatch learns of listener and sesman exits at once, without polling: each
// watched process has a pidfd (which works for processes lucid-rdp did not
// start itself, such as ones adopted after an agent restart), and one
// goroutine waits on all of them with epoll.
type exitWatch struct {
	mu    sync.Mutex
	epfd  int
	wake  int             // eventfd that ends the wait
	byFD  map[int]roleKey // pidfd -> server and role
	byKey map[roleKey]watched
	out   chan string
}

// The processes of a server that are watched.
const (
	roleListener = "listener"
	roleSesman   = "sesman"
)

type roleKey struct{ name, role string }

type watched struct{ fd, pid int }

// Notify implements drivers.Notifier: it sends the name of each watched
// listener that exits. Listeners are watched from the next List or Start on.
func (d *Driver) Notify(ctx context.Context) <-chan string {
	out := make(chan string, 64)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		d.Log.Warn("no exit notifications; relying on resync", "error", err)
		close(out)
		return out
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		close(out)
		return out
	}
	_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)})
	w := &exitWatch{epfd: epfd, wake: wake, byFD: map[int]roleKey{}, byKey: map[roleKey]watched{}, out: out}
	d.mu.Lock()
	d.watch = w
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		var one [8]byte
		one[0] = 1
		_, _ = unix.Write(wake, one[:])
	}()
	go w.loop(ctx)
	return out
}

func (w *exitWatch) loop(ctx context.Context) {
	defer close(w.out)
	events := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ctx.Err() != nil {
			w.closeAll()
			return
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == w.wake {
				continue
			}
			w.mu.Lock()
			key, ok := w.byFD[fd]
			if ok {
				w.forgetLocked(key)
			}
			w.mu.Unlock()
			if ok {
				select {
				case w.out <- key.name:
				default: // the receiver is behind; its next pass sees the state anyway
				}
			}
		}
	}
}

// add watches the process of server name in role, identified by id. One
// already watched under the same pid is left as it is; another pid replaces it.
func (w *exitWatch) add(name, role string, id procfs.Identity) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := roleKey{name, role}
	if cur, ok := w.byKey[key]; ok {
		if cur.pid == id.PID {
			return
		}
		w.forgetLocked(key)
	}
	fd, err := procfs.Pin(id)
	if err != nil || fd < 0 {
		return
	}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		return
	}
	w.byFD[fd] = key
	w.byKey[key] = watched{fd: fd, pid: id.PID}
}

// remove stops watching every process of server name (it was stopped on purpose).
func (w *exitWatch) remove(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(roleKey{name, roleListener})
	w.forgetLocked(roleKey{name, roleSesman})
}

// removeRole stops watching one process of server name.
func (w *exitWatch) removeRole(name, role string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(roleKey{name, role})
}

func (w *exitWatch) forgetLocked(key roleKey) {
	cur, ok := w.byKey[key]
	if !ok {
		return
	}
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, cur.fd, nil)
	unix.Close(cur.fd)
	delete(w.byFD, cur.fd)
	delete(w.byKey, key)
}

func (w *exitWatch) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key := range w.byKey {
		w.forgetLocked(key)
	}
	unix.Close(w.wake)
	unix.Close(w.epfd)
}
