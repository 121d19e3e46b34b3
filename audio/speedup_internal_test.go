package audio

import (
	"math"
	"testing"
)

// What the speed-up holds back counts in a frame's mouth-to-ear (the
// Receiver adds it): above speed 1 libsonic keeps up to maxHold samples to
// search for the pitch in, and they come out only with later input; at
// speed 1 it holds nothing and what it left out is known exactly.
func TestSpeedupHeld(t *testing.T) {
	sp, err := newSpeedup()
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, FrameSamples)
	buf := make([]int16, 4*FrameSamples)
	var n int
	sp.setSpeed(1.25)
	most := 0
	for range 50 {
		for i := range frame {
			x := float64(n) / SampleRate
			frame[i] = int16(6000*math.Sin(2*math.Pi*120*x) + 3000*math.Sin(2*math.Pi*360*x))
			n++
		}
		if err := sp.write(frame); err != nil {
			t.Fatal(err)
		}
		for sp.read(buf) > 0 {
		}
		h := sp.held()
		if h < 0 || h > maxHold {
			t.Fatalf("held %d samples, want 0…%d", h, maxHold)
		}
		if b := sp.behind(); b != h+sp.available() {
			t.Fatalf("behind %d, want held %d + available %d", b, h, sp.available())
		}
		most = max(most, h)
	}
	if most == 0 {
		t.Error("nothing held back at speed 1.25: the mouth-to-ear would miss it")
	}
	if left := sp.in - sp.out; left < uint64(len(frame)*50/10) {
		t.Errorf("left out %d of %d samples at 1.25×", left, sp.in)
	}
	sp.setSpeed(1)
	if err := sp.write(frame); err != nil {
		t.Fatal(err)
	}
	if h := sp.held(); h != 0 {
		t.Errorf("held %d samples at speed 1, want 0", h)
	}
	for sp.read(buf) > 0 {
	}
	if sp.in != sp.out+sp.saved {
		t.Errorf("in %d ≠ out %d + left out %d", sp.in, sp.out, sp.saved)
	}
}
