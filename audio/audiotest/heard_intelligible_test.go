package audiotest_test

import (
	"testing"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

// The intelligibility measure of the voice tests tells what a listener
// hears from what they lost: it sees through Opus coding, a stall's
// silence and a pitch-preserving speed-up, and does not take another
// sentence, or the same one with pieces cut out, for the speech sent.
func TestIntelligibleIsCalibrated(t *testing.T) {
	ref := audiotest.Speech(t)
	other, err := audiotest.Speak("Copy that, unit seven. Proceed to the north gate and report back when you are in position, over.", "en")
	if err != nil {
		t.Fatal(err)
	}
	coded := opusRoundTrip(t, ref)
	faster := func(pcm []int16, speed float32) []int16 {
		out, err := audio.SpeedUp(pcm, speed)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A stall: 1.5 s of silence in the middle, then the rest.
	mid := len(coded) / 2 / audio.FrameSamples * audio.FrameSamples
	stalled := append(append(append([]int16(nil), coded[:mid]...), make([]int16, 3*audio.SampleRate/2)...), coded[mid:]...)
	// A stall caught up the way the Receiver does it: after 1.5 s of
	// silence, the rest with its pauses shortened to one frame and
	// played 50 % faster.
	caughtUp := append(append([]int16(nil), coded[:mid]...), make([]int16, 3*audio.SampleRate/2)...)
	var rest []int16
	wasQuiet := false
	for i := mid; i+audio.FrameSamples <= len(coded); i += audio.FrameSamples {
		f := coded[i : i+audio.FrameSamples]
		quiet := true
		for _, v := range f {
			quiet = quiet && v > -300 && v < 300
		}
		if !(quiet && wasQuiet) {
			rest = append(rest, f...)
		}
		wasQuiet = quiet
	}
	caughtUp = append(caughtUp, faster(rest, 1.5)...)
	// A fifth cut out: 200 ms of every second.
	var cut []int16
	for i := 0; i < len(coded); i += audio.SampleRate {
		end := min(len(coded), i+audio.SampleRate)
		cut = append(cut, coded[i:max(i, end-audio.SampleRate/5)]...)
	}
	lead := append(make([]int16, audio.SampleRate/2), coded...) // played half a second later
	for _, tc := range []struct {
		name     string
		got      []int16
		min, max float64
	}{
		{"opus", coded, 0.97, 1},
		{"later", lead, 0.97, 1},
		{"stalled", stalled, 0.95, 1},
		{"25 % faster", faster(coded, 1.25), 0.95, 1},
		{"50 % faster", faster(coded, 1.5), 0.9, 1},
		{"stall caught up", caughtUp, 0.92, 1},
		// Speech that is not there still scores: any two stretches of
		// speech share much of their spectra. The scale is read against
		// these two.
		{"a fifth cut out", cut, 0, 0.8},
		{"another sentence", other, 0, 0.65},
		{"silence", make([]int16, len(ref)), 0, 0.05},
	} {
		got := audiotest.Intelligible(ref, tc.got, audiotest.HeardThreshold)
		t.Logf("%-18s %.2f", tc.name, got)
		if got < tc.min || got > tc.max {
			t.Errorf("%s: %.2f heard, want %.2f–%.2f", tc.name, got, tc.min, tc.max)
		}
	}
}

func opusRoundTrip(t *testing.T, pcm []int16) []int16 {
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := audio.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	frame := make([]int16, audio.FrameSamples)
	var out []int16
	for i := 0; i+audio.FrameSamples <= len(pcm); i += audio.FrameSamples {
		n, err := enc.Encode(pcm[i:i+audio.FrameSamples], buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode(buf[:n], frame); err != nil {
			t.Fatal(err)
		}
		out = append(out, frame...)
	}
	return out
}
