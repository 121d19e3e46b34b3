package ptt

import (
	"bytes"
	"testing"

	"github.com/pttagent/pttagent/wire"
)

func voicePacket(t testing.TB, seq uint32, last bool, frames ...string) []byte {
	p := wire.VoicePacket{Burst: 7, Seq: seq, TimeMicro: 1_000_000 + int64(seq)*20_000, FrameMs: 20, NFrames: len(frames), Last: last}
	for i, f := range frames {
		p.Frames[i] = []byte(f)
	}
	return wire.AppendVoicePacket(nil, &p)
}

// Each packet over UDP starts with the last frame of the one before, on
// that frame's own clock; the first packet of a burst and an empty end
// go as they are.
func TestRedundancyRepeatsThePreviousLastFrame(t *testing.T) {
	var r redundancy
	in := [][]byte{
		voicePacket(t, 0, false, "a0", "a1", "a2"),
		voicePacket(t, 3, false, "b3", "b4", "b5"),
		voicePacket(t, 6, true, "c6"),
		voicePacket(t, 7, true),
	}
	want := []struct {
		seq    uint32
		frames []string
		time   int64
	}{
		{0, []string{"a0", "a1", "a2"}, 1_000_000},
		{2, []string{"a2", "b3", "b4", "b5"}, 1_040_000},
		{5, []string{"b5", "c6"}, 1_100_000},
		{7, nil, 1_140_000},
	}
	for i, payload := range in {
		var p wire.VoicePacket
		if err := wire.DecodeVoicePacket(r.withPrevious(payload), &p); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if p.Seq != w.seq || p.NFrames != len(w.frames) || p.TimeMicro != w.time || p.Burst != 7 {
			t.Fatalf("packet %d: seq %d, %d frames, time %d", i, p.Seq, p.NFrames, p.TimeMicro)
		}
		for k, f := range w.frames {
			if !bytes.Equal(p.Frames[k], []byte(f)) {
				t.Fatalf("packet %d frame %d: %q, want %q", i, k, p.Frames[k], f)
			}
		}
	}
	payload := voicePacket(t, 9, false, "x", "y", "z")
	if n := testing.AllocsPerRun(100, func() { r.withPrevious(payload) }); n != 0 {
		t.Errorf("%.0f allocations per packet", n)
	}
}
