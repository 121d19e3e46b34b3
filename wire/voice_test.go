package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestVoicePacketRoundTrip(t *testing.T) {
	in := VoicePacket{Burst: 0xdeadbeef, Seq: 42, TimeMicro: 1763712000123456, NFrames: 3}
	in.Frames[0] = []byte{1, 2, 3}
	in.Frames[1] = bytes.Repeat([]byte{9}, MaxOpusFrame)
	in.Frames[2] = []byte{7}
	b := AppendVoicePacket(nil, &in)
	if len(b) != voiceHeaderSize+3*2+3+MaxOpusFrame+1 {
		t.Fatalf("size %d", len(b))
	}
	var out VoicePacket
	if err := DecodeVoicePacket(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Burst != in.Burst || out.Seq != in.Seq || out.TimeMicro != in.TimeMicro || out.NFrames != 3 || out.Last || out.FrameMs != 20 {
		t.Fatalf("got %+v", out)
	}
	for i := 0; i < 3; i++ {
		if !bytes.Equal(out.Frames[i], in.Frames[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	end := VoicePacket{Last: true, Burst: 1, Seq: 9}
	if err := DecodeVoicePacket(AppendVoicePacket(nil, &end), &out); err != nil || !out.Last || out.NFrames != 0 || out.Seq != 9 {
		t.Fatalf("end packet: %+v %v", out, err)
	}
}

func TestVoicePacketRejects(t *testing.T) {
	good := VoicePacket{Burst: 1, Seq: 1, NFrames: 1}
	good.Frames[0] = []byte{1, 2}
	ok := AppendVoicePacket(nil, &good)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ok...)) }
	for name, b := range map[string][]byte{
		"empty":       nil,
		"header only": ok[:voiceHeaderSize-1],
		"version":     mod(func(b []byte) []byte { b[0] = 2; return b }),
		"flags":       mod(func(b []byte) []byte { b[1] = 0x80; return b }),
		"codec":       mod(func(b []byte) []byte { b[2] = 9; return b }),
		"frame ms":    mod(func(b []byte) []byte { b[3] = 40; return b }),
		"too many":    mod(func(b []byte) []byte { b[20] = MaxVoiceFrames + 1; return b }),
		"frame short": ok[:len(ok)-1],
		"trailing":    append(append([]byte(nil), ok...), 0),
		"zero frame":  mod(func(b []byte) []byte { b[21], b[22] = 0, 0; return b[:23] }),
		"huge frame":  mod(func(b []byte) []byte { b[21], b[22] = 0xff, 0xff; return b }),
		"seq wraps":   mod(func(b []byte) []byte { copy(b[8:], []byte{0xff, 0xff, 0xff, 0xff}); return b }),
	} {
		var p VoicePacket
		if err := DecodeVoicePacket(b, &p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var p VoicePacket
	if err := DecodeVoicePacket(ok[:5], &p); !errors.Is(err, ErrVoiceShort) {
		t.Errorf("short: %v, want ErrVoiceShort", err)
	}
}

func TestVoicePacketNoAlloc(t *testing.T) {
	in := VoicePacket{Burst: 7, Seq: 3, NFrames: 3}
	for i := range 3 {
		in.Frames[i] = make([]byte, 50)
	}
	buf := make([]byte, 0, MaxVoicePacket)
	var out VoicePacket
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendVoicePacket(buf[:0], &in)
		if err := DecodeVoicePacket(b, &out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet, want 0", allocs)
	}
}

func FuzzDecodeVoicePacket(f *testing.F) {
	p := VoicePacket{Burst: 5, Seq: 10, TimeMicro: 99, NFrames: 2}
	p.Frames[0], p.Frames[1] = []byte{0xf8, 0xff, 0xfe}, []byte{1}
	f.Add(AppendVoicePacket(nil, &p))
	f.Add(AppendVoicePacket(nil, &VoicePacket{Last: true}))
	f.Add([]byte{1, 0, 1, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p VoicePacket
		if err := DecodeVoicePacket(b, &p); err != nil {
			return
		}
		// What decodes must encode back to the same bytes.
		if again := AppendVoicePacket(nil, &p); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, was %x", again, b)
		}
	})
}
