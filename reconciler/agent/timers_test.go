package agent

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestDebounce: a burst of pokes fires once, delay after the last poke.
func TestDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &debouncer{delay: 50 * time.Millisecond}
		if d.C() != nil {
			t.Fatal("an idle debouncer must never fire")
		}
		start := time.Now()
		for i := 0; i < 5; i++ {
			d.poke()
			time.Sleep(20 * time.Millisecond) // less than the delay: still one burst
		}
		fired := <-d.C()
		if got := fired.Sub(start); got != 130*time.Millisecond {
			t.Errorf("fired %v after the first poke; want 130ms (last poke at 80ms + 50ms)", got)
		}
		select {
		case <-d.C():
			t.Error("fired twice for one burst")
		case <-time.After(time.Second):
		}
		// A later poke starts a new wait.
		d.poke()
		at := time.Now()
		<-d.C()
		if got := time.Since(at); got != 50*time.Millisecond {
			t.Errorf("second burst fired after %v", got)
		}
	})
}

// TestBackoff: waits double per failure up to the cap, and a success resets.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackoff(time.Second, 10*time.Second)
		var waits []time.Duration
		for i := 0; i < 6; i++ {
			waits = append(waits, b.fail("x"))
		}
		want := []time.Duration{1, 2, 4, 8, 10, 10}
		for i, w := range want {
			if waits[i] != w*time.Second {
				t.Errorf("wait %d = %v; want %v", i, waits[i], w*time.Second)
			}
		}
		if _, ok := b.waiting("x"); !ok {
			t.Error("x should be waiting")
		}
		if _, ok := b.waiting("y"); ok {
			t.Error("y never failed")
		}
		if next, ok := b.next(); !ok || time.Until(next) != 10*time.Second {
			t.Errorf("next = %v, %v", next, ok)
		}
		time.Sleep(10 * time.Second)
		if _, ok := b.waiting("x"); ok {
			t.Error("x still waiting after its backoff ran out")
		}
		b.succeed("x")
		if w := b.fail("x"); w != time.Second {
			t.Errorf("after a success the first wait is %v; want 1s", w)
		}
	})
}

func TestEarliest(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	for _, c := range []struct{ a, b, want time.Time }{
		{time.Time{}, time.Time{}, time.Time{}},
		{t0, time.Time{}, t0},
		{time.Time{}, t0, t0},
		{t1, t0, t0},
		{t0, t1, t0},
	} {
		if got := earliest(c.a, c.b); !got.Equal(c.want) {
			t.Errorf("earliest(%s, %s) = %s; want %s", c.a, c.b, got, c.want)
		}
	}
}
