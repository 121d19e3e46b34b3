package audio

import (
	"math"
	"regexp"
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

// The end tone queued with PlayAfterVoice waits for the buffered voice:
// the floor went idle while 9 frames were still to play (their last
// packet lost), they all play, the burst ends, then the tone.
func TestOutputToneAfterBufferedVoice(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := NewPacketizer(enc, 3)
	pk.Begin(5)
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(float64(i)*0.2))
	}
	rx, err := NewReceiver(JitterConfig{Target: 0, Max: 50})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOutput(nil, rx)
	t0 := time.Now()
	for range 9 {
		if p, _ := pk.Add(pcm, t0); p != nil {
			if err := o.PutVoiceFrom("a", p, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	tone, _ := RenderTone(ToneEnd, 1)
	o.PlayAfterVoice(tone)
	o.FloorIdle()
	frame := make([]int16, FrameSamples)
	var got []byte
	for i := range 30 {
		more, voice := o.next(t0.Add(time.Duration(i)*FrameDuration), frame)
		switch {
		case voice && len(o.tones) > 0:
			got = append(got, '?') // voice and tone together
		case voice:
			got = append(got, 'v')
		case len(o.afterVoice) == 0 && more && peakOf(frame) > 10000:
			got = append(got, 't')
		case more:
			got = append(got, '.')
		default:
			got = append(got, '_')
		}
	}
	// 9 frames of voice (arriving at once, 120 ms behind: played faster,
	// a period of the steady tone left out of most frames), the grace for
	// packets on their way (200 ms from FloorIdle, counted on the wall
	// clock here), the 4 frames of the tone.
	if !regexp.MustCompile(`^v{5,9}\.{1,11}t{4}_+$`).Match(got) {
		t.Fatalf("played %s", got)
	}
	if s := rx.Stats(); s.Frames != 9 || s.Expired != 0 {
		t.Fatalf("%+v", s)
	}
}

func peakOf(pcm []int16) int {
	m := 0
	for _, v := range pcm {
		m = max(m, int(v), -int(v))
	}
	return m
}
