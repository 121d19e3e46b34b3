package audio_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/wire"
)

// A burst held for 200 ms of (fake, paced) microphone time: packets of 3
// frames with consecutive sequence numbers, capture times 20 ms apart, and
// a last packet when the floor goes.
func TestTransmitterBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mic := &audiotest.Capture{Signal: speech(t), Pace: audio.FrameDuration}
		enc, _ := audio.NewEncoder(audio.EncoderConfig{Bitrate: 16000, Complexity: 3})
		pk, _ := audio.NewPacketizer(enc, 3)
		tx := &audio.Transmitter{Capture: mic, Packetizer: pk}
		var got []wire.VoicePacket
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond+time.Millisecond)
		defer cancel()
		start := time.Now()
		frames, err := tx.Talk(ctx, 77, func(b []byte) {
			var p wire.VoicePacket
			if err := wire.DecodeVoicePacket(b, &p); err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		})
		if err != nil {
			t.Fatal(err)
		}
		if frames != 11 { // reads at 20, 40, … 220 ms: the one under way when the floor went is sent too
			t.Fatalf("%d frames", frames)
		}
		if len(got) != 4 || !got[3].Last || got[3].NFrames != 2 {
			t.Fatalf("packets: %+v", got)
		}
		for i, p := range got {
			if p.Burst != 77 || p.Seq != uint32(3*i) || p.Last != (i == 3) {
				t.Fatalf("packet %d: %+v", i, p)
			}
			if want := start.Add(time.Duration(3*i) * audio.FrameDuration); p.TimeMicro != want.UnixMicro() {
				t.Fatalf("packet %d captured at %d, want %d", i, p.TimeMicro, want.UnixMicro())
			}
		}
		// The microphone is off again.
		if err := mic.ReadFrame(make([]int16, audio.FrameSamples)); err == nil {
			t.Fatal("capture still running after the burst")
		}
	})
}

// The packet size changes between bursts, never inside one.
func TestPacketizerFramesPerPacketBetweenBursts(t *testing.T) {
	enc, _ := audio.NewEncoder(audio.EncoderConfig{Bitrate: 16000, Complexity: 3})
	pk, _ := audio.NewPacketizer(enc, 3)
	if err := pk.SetFramesPerPacket(2); err != nil {
		t.Fatal(err)
	}
	if err := pk.Begin(1); err != nil {
		t.Fatal(err)
	}
	if err := pk.SetFramesPerPacket(3); err == nil {
		t.Error("changed inside a burst")
	}
	pcm := make([]int16, audio.FrameSamples)
	var sizes []int
	for range 6 {
		b, err := pk.Add(pcm, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			var p wire.VoicePacket
			if err := wire.DecodeVoicePacket(b, &p); err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, p.NFrames)
		}
	}
	if len(sizes) != 3 || sizes[0] != 2 || sizes[2] != 2 {
		t.Errorf("packets of %v frames, want three of 2", sizes)
	}
	for _, n := range []int{0, wire.MaxVoiceFrames + 1} {
		pk.End()
		if err := pk.SetFramesPerPacket(n); err == nil {
			t.Errorf("%d frames per packet accepted", n)
		}
	}
}
