package audio_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

// A file card runs as fast as the CPU; paced, it delivers a frame per
// 20 ms and drains written frames at the same rate, like a sound card.
func TestPacedDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := audio.PaceCapture(&audiotest.Capture{Signal: make([]int16, 100*audio.FrameSamples)})
		c.Start()
		start := time.Now()
		pcm := make([]int16, audio.FrameSamples)
		for range 50 {
			c.ReadFrame(pcm)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("50 frames captured in %v", d)
		}
		p := audio.PacePlayer(&audiotest.Player{}, 2)
		p.Start()
		start = time.Now()
		for range 50 {
			p.WriteFrame(pcm)
		}
		// The last two frames are still in the card's buffer.
		if d := time.Since(start); d != 960*time.Millisecond {
			t.Errorf("50 frames written in %v", d)
		}
		// A writer that falls behind starts over (an underflow), without a burst.
		time.Sleep(time.Second)
		start = time.Now()
		for range 5 {
			p.WriteFrame(pcm)
		}
		if d := time.Since(start); d != 60*time.Millisecond {
			t.Errorf("after a pause, 5 frames written in %v", d)
		}
	})
	// Errors of the device pass through.
	failing := audio.PaceCapture(&audiotest.Capture{})
	if err := failing.ReadFrame(make([]int16, audio.FrameSamples)); err == nil {
		t.Error("read from a stopped capture passed")
	}
}
