package radio

import (
	"testing"
	"time"
)

func TestRadio(t *testing.T) {
	var r Radio
	if r.Awake(time.Hour) || !r.Last().IsZero() {
		t.Fatal("a radio never used is awake")
	}
	woke := r.Woke()
	select {
	case <-woke:
		t.Fatal("woke before any traffic")
	default:
	}
	r.Used()
	select {
	case <-woke:
	default:
		t.Fatal("traffic did not wake the waiter")
	}
	if !r.Awake(time.Second) {
		t.Error("not awake right after traffic")
	}
	time.Sleep(20 * time.Millisecond)
	if r.Awake(10 * time.Millisecond) {
		t.Error("awake 20 ms after traffic, asked within 10 ms")
	}
	// A new waiter waits for new traffic, not the last.
	woke = r.Woke()
	select {
	case <-woke:
		t.Fatal("a new waiter woke by old traffic")
	default:
	}
	r.Used()
	<-woke
}

func TestNilRadio(t *testing.T) {
	var r *Radio
	r.Used()
	if r.Awake(time.Hour) || r.Woke() != nil || !r.Last().IsZero() {
		t.Error("a nil radio must be inert")
	}
}
