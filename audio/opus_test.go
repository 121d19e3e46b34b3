package audio_test

import (
	"sync"
	"testing"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/wire"
)

// The encoded size follows the bitrate the link adaptation sets, from the
// next frame on, with the encoder in use (the setters run on another
// goroutine than Encode, as the adaptation does).
func TestEncoderFollowsTheBitrate(t *testing.T) {
	speech := audiotest.Speech(t)
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 24000, Complexity: 5, ExpectedLoss: 5})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, wire.MaxOpusFrame)
	// meanBytes encodes the whole sentence and returns the mean frame size
	// of its voiced part (the frames Opus does not shrink as silence).
	meanBytes := func() float64 {
		var sizes []int
		for i := 0; i+audio.FrameSamples <= len(speech); i += audio.FrameSamples {
			n, err := enc.Encode(speech[i:i+audio.FrameSamples], out)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
		total, voiced := 0, 0
		for _, n := range sizes {
			if n > 10 {
				total += n
				voiced++
			}
		}
		return float64(total) / float64(voiced)
	}
	meanBytes() // the encoder's first frames are its warm-up
	prev := 0.0
	for _, bps := range []int{8000, 12000, 16000, 24000, 32000} {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := enc.SetBitrate(bps); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		got := meanBytes()
		want := float64(bps) / 8 / 50
		if got < want*0.6 || got > want*1.3 || got <= prev {
			t.Errorf("%d bit/s: %.1f bytes a voiced frame, want about %.0f and more than at the rate before (%.1f)", bps, got, want, prev)
		}
		t.Logf("%d bit/s: %.1f bytes a voiced frame (nominal %.0f)", bps, got, want)
		prev = got
	}
	if err := enc.SetFEC(false); err != nil {
		t.Error(err)
	}
	if err := enc.SetExpectedLoss(0); err != nil {
		t.Error(err)
	}
	for _, bad := range []func() error{
		func() error { return enc.SetBitrate(100) },
		func() error { return enc.SetBitrate(1_000_000) },
		func() error { return enc.SetExpectedLoss(-1) },
		func() error { return enc.SetExpectedLoss(101) },
	} {
		if bad() == nil {
			t.Error("an out-of-range setting was accepted")
		}
	}
}
