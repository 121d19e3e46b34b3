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

func TestVoice(t *testing.T) {
	var r Radio
	if r.VoiceDone() != nil {
		t.Fatal("voice flows on a new radio")
	}
	r.SetVoice(true)
	r.SetVoice(true) // heard and sent at once: one spell
	done := r.VoiceDone()
	if done == nil {
		t.Fatal("no voice after SetVoice(true)")
	}
	select {
	case <-done:
		t.Fatal("done while voice flows")
	default:
	}
	r.SetVoice(false)
	select {
	case <-done:
	default:
		t.Fatal("SetVoice(false) did not end the wait")
	}
	if r.VoiceDone() != nil {
		t.Error("voice after SetVoice(false)")
	}
	r.SetVoice(false)
}

func TestNilRadio(t *testing.T) {
	var r *Radio
	r.Used()
	r.SetVoice(true)
	if r.Awake(time.Hour) || r.Woke() != nil || !r.Last().IsZero() || r.VoiceDone() != nil {
		t.Error("a nil radio must be inert")
	}
}
