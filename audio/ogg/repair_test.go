package ogg_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio/ogg"
)

func oggOf(t testing.TB, frames [][]byte, close bool) []byte {
	var buf bytes.Buffer
	w, err := ogg.NewWriter(&buf, ogg.Options{Serial: 7, PacketsPerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		w.WritePacket(f, 960)
	}
	if close {
		w.Close()
	}
	return buf.Bytes()
}

// A recording torn by a power cut keeps its intact pages and becomes a
// complete stream again; a complete one is returned as it was.
func TestOggRepair(t *testing.T) {
	_, frames := encodeSpeech(t)
	frames = frames[:95]
	whole := oggOf(t, frames, true)
	fixed, d, err := ogg.Repair(whole)
	if err != nil || d != 1900*time.Millisecond || !bytes.Equal(fixed, whole) {
		t.Fatalf("a complete file: %v %v, unchanged %v", d, err, bytes.Equal(fixed, whole))
	}
	open := oggOf(t, frames, false) // 9 pages of 10 frames written, 5 frames lost with the process
	// Torn by the power cut: nothing, a page header cut short, half a page,
	// or whole pages of an earlier stream that the disk still held there.
	earlier := oggOf(t, frames[:30], true)
	for _, tail := range [][]byte{nil, []byte("OggS\x00"), open[len(open)/2:], earlier} {
		torn := append(append([]byte(nil), open...), tail...)
		fixed, d, err := ogg.Repair(torn)
		if err != nil || d != 1800*time.Millisecond || len(fixed) != len(open) {
			t.Errorf("torn by %d bytes: %v %v, %d bytes kept of %d", len(tail), d, err, len(fixed), len(open))
			continue
		}
		// Re-repairing is a no-op: the last page now says end of stream.
		if again, _, _ := ogg.Repair(fixed); !bytes.Equal(again, fixed) {
			t.Error("repair is not idempotent")
		}
	}
	// A flipped byte in a page: that page and what follows are dropped.
	bad := append([]byte(nil), open...)
	bad[len(bad)-10] ^= 0xff
	if _, d, err := ogg.Repair(bad); err != nil || d != 1600*time.Millisecond {
		t.Errorf("corrupt last page: %v %v", d, err)
	}
	for _, junk := range [][]byte{nil, []byte("OggS"), []byte("not ogg at all, not even close to it")} {
		if _, _, err := ogg.Repair(junk); err == nil {
			t.Errorf("%q repaired", junk)
		}
	}
}

func FuzzOggRepair(f *testing.F) {
	f.Add(oggOf(f, [][]byte{{0xf8, 1, 2}, {0xf8, 3}}, true))
	f.Add(oggOf(f, [][]byte{{0xf8, 1, 2}}, false)[:60])
	f.Add([]byte("OggS\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := append([]byte(nil), b...)
		fixed, d, err := ogg.Repair(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		if len(fixed) > len(b) || d < 0 {
			t.Fatalf("%d bytes from %d, %v", len(fixed), len(b), d)
		}
		again, d2, err := ogg.Repair(fixed)
		if err != nil || d2 != d || !bytes.Equal(again, fixed) {
			t.Fatalf("not stable: %v %v", d2, err)
		}
	})
}
