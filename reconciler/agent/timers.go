package agent

import (
	"sync"
	"time"
)

// debouncer fires once, delay after the last of a burst of pokes. Editors and
// `git checkout` touch a folder several times for one change.
type debouncer struct {
	delay time.Duration
	timer *time.Timer
}

// poke (re)starts the wait.
func (d *debouncer) poke() {
	if d.timer == nil {
		d.timer = time.NewTimer(d.delay)
		return
	}
	d.timer.Reset(d.delay)
}

// C returns the channel that fires after the wait; nil (never ready) when idle.
func (d *debouncer) C() <-chan time.Time {
	if d.timer == nil {
		return nil
	}
	return d.timer.C
}

// backoff spaces out retries of failing servers: base, 2×base, 4×base … up to
// max. A success resets the server.
type backoff struct {
	base, max time.Duration

	mu       sync.Mutex
	failures map[string]int
	until    map[string]time.Time
}

func newBackoff(base, max time.Duration) *backoff {
	return &backoff{base: base, max: max, failures: map[string]int{}, until: map[string]time.Time{}}
}

// fail records a failure of name and returns how long it waits now.
func (b *backoff) fail(name string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.failures[name]
	b.failures[name] = n + 1
	wait := b.base << min(n, 30)
	if wait > b.max || wait <= 0 {
		wait = b.max
	}
	b.until[name] = time.Now().Add(wait)
	return wait
}

// succeed forgets name's failures.
func (b *backoff) succeed(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, name)
	delete(b.until, name)
}

// waiting reports whether name is still backing off, and until when.
func (b *backoff) waiting(name string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.until[name]
	if !ok || !time.Now().Before(u) {
		return time.Time{}, false
	}
	return u, true
}

// earliest returns the earlier of a and b, where zero means "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// next returns the earliest time a backing-off server may be tried again.
func (b *backoff) next() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first time.Time
	now := time.Now()
	for _, u := range b.until {
		if u.After(now) && (first.IsZero() || u.Before(first)) {
			first = u
		}
	}
	return first, !first.IsZero()
}
