package track

import (
	"testing"
	"time"
)

// The reporter sleeps until the heartbeat is due (no ticker): the due time
// it waits for is the one onTick acts on, and there is none while nothing
// could produce a heartbeat.
func TestHeartbeatDue(t *testing.T) {
	o := opts()
	d := newDecider(o)
	d.setSettings(t0, true, 10*time.Second)
	d.onFix(t0, fix(0, 1, 2, 0, 0))
	if _, on := d.heartbeatDue(); on {
		t.Fatal("a heartbeat is due with tracks.heartbeat off: the reporter would wake for nothing")
	}

	o.Heartbeat = 60 * time.Second
	d = newDecider(o)
	d.setSettings(t0, true, 10*time.Second)
	if _, on := d.heartbeatDue(); on {
		t.Fatal("a heartbeat is due before any fix")
	}
	d.onFix(t0, fix(0, 1, 2, 0, 0))
	due, on := d.heartbeatDue()
	if !on || !due.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("due %v (%v), want 60 s after the point", due.Sub(t0), on)
	}
	if _, ok := d.onTick(due.Add(-time.Millisecond)); ok {
		t.Fatal("heartbeat before its due time")
	}
	if _, ok := d.onTick(due); !ok {
		t.Fatal("no heartbeat at its due time")
	}
	if next, _ := d.heartbeatDue(); !next.Equal(due.Add(60 * time.Second)) {
		t.Fatalf("next due %v, want 120 s", next.Sub(t0))
	}
	d.setSettings(due, false, 10*time.Second)
	if _, on := d.heartbeatDue(); on {
		t.Fatal("a heartbeat is due with location sharing off")
	}
}
