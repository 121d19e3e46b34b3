package audio

import (
	"testing"
	"time"
)

// The volume scales everything played, from the next frame, without
// clipping and without allocating.
func TestOutputGain(t *testing.T) {
	tone, err := RenderTone(ToneEnd, 1)
	if err != nil {
		t.Fatal(err)
	}
	peak := func(pcm []int16) int {
		m := 0
		for _, v := range pcm {
			m = max(m, int(v), -int(v))
		}
		return m
	}
	rx, err := NewReceiver(JitterConfig{Target: 5, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOutput(nil, rx)
	frame := make([]int16, FrameSamples)
	play := func() int {
		o.PlayTone(tone)
		got := 0
		for {
			more, _ := o.next(time.Now(), frame)
			if !more {
				return got
			}
			got = max(got, peak(frame))
		}
	}
	full := play()
	o.SetGain(0.5)
	half := play()
	if full < 30000 || half < full/2-2 || half > full/2+2 {
		t.Fatalf("peak %d at gain 1, %d at gain 0.5", full, half)
	}
	o.SetGain(7) // out of range: clamped to unity
	if got := play(); got != full {
		t.Fatalf("peak %d at a clamped gain, want %d", got, full)
	}
	o.SetGain(0.3)
	o.PlayTone(tone)
	if n := testing.AllocsPerRun(5, func() { o.next(time.Now(), frame) }); n != 0 {
		t.Fatalf("%v allocations per frame with a gain", n)
	}
}
