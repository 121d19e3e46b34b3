package audio

import (
	"fmt"
	"testing"
	"time"

	"github.com/pttagent/pttagent/wire"
)

var jt0 = time.Unix(1763712000, 0)

func pkt(burst, seq uint32, n int, last bool) *wire.VoicePacket {
	p := &wire.VoicePacket{Burst: burst, Seq: seq, NFrames: n, Last: last, FrameMs: 20}
	for i := 0; i < n; i++ {
		p.Frames[i] = []byte{byte(seq + uint32(i)), 0xAA}
	}
	return p
}

// turn plays one turn and renders it: "f<seq>" a frame, "c" conceal,
// "c+<seq>" conceal with the next frame's FEC, "-" nothing, "end".
func turn(j *Jitter, now time.Time) string {
	buf := make([]byte, wire.MaxOpusFrame)
	kind, n := j.Next(now, buf)
	switch kind {
	case PlayFrame:
		return fmt.Sprintf("f%d", buf[0])
	case PlayConceal:
		if n > 0 {
			return fmt.Sprintf("c+%d", buf[0])
		}
		return "c"
	case PlayEnd:
		return "end"
	}
	_ = n
	return "-"
}

func turns(j *Jitter, from time.Time, k int) []string {
	var out []string
	for i := 0; i < k; i++ {
		out = append(out, turn(j, from.Add(time.Duration(i)*FrameDuration)))
	}
	return out
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func newJ(t *testing.T, target, max int) *Jitter {
	j, err := NewJitter(JitterConfig{Target: target, Max: max, Silence: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJitterBuffersThenPlaysInOrder(t *testing.T) {
	j := newJ(t, 3, 10)
	if !j.Put(pkt(1, 2, 2, false), jt0) { // overtook the first packet
		t.Fatal("first packet did not start a burst")
	}
	eq(t, turns(j, jt0, 1), "-") // 2 frames < target 3
	j.Put(pkt(1, 0, 2, false), jt0)
	j.Put(pkt(1, 4, 1, true), jt0)
	eq(t, turns(j, jt0, 7), "f0", "f1", "f2", "f3", "f4", "end", "-")
	if s := j.Stats(); s.Frames != 5 || s.Late != 0 || s.Concealed != 0 || s.Bursts != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestJitterConcealsLossWithFEC(t *testing.T) {
	j := newJ(t, 2, 10)
	j.Put(pkt(1, 0, 2, false), jt0)
	// frames 2,3 lost; 4,5 here; 6 lost at the end, 7 is the last packet's
	j.Put(pkt(1, 4, 2, false), jt0)
	j.Put(pkt(1, 7, 1, true), jt0)
	eq(t, turns(j, jt0, 9), "f0", "f1", "c", "c+4", "f4", "f5", "c+7", "f7", "end")
	if s := j.Stats(); s.Concealed != 3 || s.FEC != 2 || s.Frames != 5 {
		t.Fatalf("%+v", s)
	}
}

func TestJitterLateAndDuplicate(t *testing.T) {
	j := newJ(t, 1, 10)
	j.Put(pkt(1, 0, 1, false), jt0)
	j.Put(pkt(1, 1, 1, false), jt0)
	eq(t, turns(j, jt0, 1), "f0")
	j.Put(pkt(1, 1, 1, false), jt0) // again
	j.Put(pkt(1, 0, 1, false), jt0) // after its turn
	eq(t, turns(j, jt0, 1), "f1")
	if s := j.Stats(); s.Duplicates != 1 || s.Late != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestJitterOneSpeakerAtATime(t *testing.T) {
	j := newJ(t, 1, 10)
	j.Put(pkt(1, 0, 2, false), jt0)
	if j.Put(pkt(2, 0, 3, false), jt0) { // someone else, while 1 talks
		t.Fatal("second speaker started a burst")
	}
	j.Put(pkt(1, 2, 0, true), jt0)
	eq(t, turns(j, jt0, 3), "f0", "f1", "end")
	j.Put(pkt(1, 1, 1, false), jt0) // a straggler of the finished burst
	if j.Put(pkt(3, 0, 1, true), jt0.Add(time.Second)) != true {
		t.Fatal("next burst not accepted after the end")
	}
	eq(t, turns(j, jt0, 2), "f0", "end")
	if s := j.Stats(); s.Other != 3 || s.Late != 1 || s.Bursts != 2 {
		t.Fatalf("%+v", s)
	}
}

func TestJitterSpeakerVanishes(t *testing.T) {
	j := newJ(t, 1, 10)
	j.Put(pkt(1, 0, 2, false), jt0)
	// A new speaker before the silence timeout is refused…
	j.Put(pkt(2, 0, 1, false), jt0.Add(100*time.Millisecond))
	eq(t, turns(j, jt0, 4), "f0", "f1", "c", "c") // stalled: concealed, turn held
	// …and after it, the stalled burst expires.
	eq(t, turns(j, jt0.Add(time.Second), 2), "end", "-")
	if s := j.Stats(); s.Expired != 1 || s.Underruns != 2 || s.Other != 1 {
		t.Fatalf("%+v", s)
	}
	if !j.Put(pkt(2, 3, 1, false), jt0.Add(time.Second)) {
		t.Fatal("the next speaker was not taken")
	}
}

func TestJitterStallThenBacklogIsTrimmed(t *testing.T) {
	j := newJ(t, 2, 4)
	j.Put(pkt(1, 0, 2, false), jt0)
	eq(t, turns(j, jt0, 3), "f0", "f1", "c") // stall
	// The network delivers a backlog of 9 frames at once: the delay would
	// be 9 frames; it is cut back to the target.
	for s := uint32(2); s < 11; s += 3 {
		j.Put(pkt(1, s, 3, false), jt0.Add(60*time.Millisecond))
	}
	eq(t, turns(j, jt0.Add(60*time.Millisecond), 2), "f9", "f10")
	if s := j.Stats(); s.Trimmed != 7 {
		t.Fatalf("%+v", s)
	}
	if j.Depth() != 0 {
		t.Fatalf("depth %d", j.Depth())
	}
}

func TestJitterFarAheadPacket(t *testing.T) {
	j := newJ(t, 2, 4)
	j.Put(pkt(1, 0, 1, false), jt0)
	j.Put(pkt(1, 1000, 2, false), jt0)      // beyond the ring: the turn jumps
	eq(t, turns(j, jt0, 2), "f232", "f233") // 1000 and 1001, low bytes
	if j.Stats().Trimmed != 1 {
		t.Fatalf("%+v", j.Stats())
	}
}

func TestJitterShortBurstAndReset(t *testing.T) {
	j := newJ(t, 5, 10)
	j.Put(pkt(9, 0, 2, true), jt0) // shorter than the target, but complete
	eq(t, turns(j, jt0, 3), "f0", "f1", "end")
	j.Put(pkt(10, 0, 2, false), jt0)
	j.Reset()
	if _, ok := j.Active(); ok {
		t.Fatal("active after Reset")
	}
	eq(t, turns(j, jt0, 1), "-")
	j.Put(pkt(11, 0, 1, false), jt0)
	eq(t, turns(j, jt0.Add(time.Second), 1), "end") // cut off before filling: expires
	if _, err := NewJitter(JitterConfig{Target: 3, Max: 2}); err == nil {
		t.Fatal("max < target accepted")
	}
}

func TestJitterNoAlloc(t *testing.T) {
	j := newJ(t, 3, 10)
	p := pkt(1, 0, 3, false)
	buf := make([]byte, wire.MaxOpusFrame)
	now := jt0
	allocs := testing.AllocsPerRun(200, func() {
		j.Put(p, now)
		for range 3 {
			j.Next(now, buf)
		}
		p.Seq += 3
		now = now.Add(60 * time.Millisecond)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

// FuzzJitter drives the buffer with arbitrary packet streams: bursts,
// sequence jumps, duplicates, ends and turns in any order. It must never
// panic, never play a frame twice, keep the delay bounded, and play
// frames of one burst in increasing order.
func FuzzJitter(f *testing.F) {
	f.Add([]byte{0, 1, 0, 3, 1, 1, 1, 3, 2, 2, 2})
	f.Add([]byte{0, 1, 200, 3, 0, 2, 0, 3, 3, 3, 3, 3, 0, 1, 1, 10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		j, _ := NewJitter(JitterConfig{Target: 2, Max: 6, Silence: 100 * time.Millisecond})
		now := jt0
		buf := make([]byte, wire.MaxOpusFrame)
		var lastSeq int64 = -1
		for len(ops) >= 4 {
			op, a, b, c := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			switch op % 4 {
			case 0, 1: // a packet: burst a%3, seq near b*7, c%4 frames
				p := &wire.VoicePacket{Burst: uint32(a % 3), Seq: uint32(b) * 7, NFrames: int(c % 4), Last: op%4 == 1}
				for i := 0; i < p.NFrames; i++ {
					p.Frames[i] = []byte{byte(p.Seq) + byte(i), byte((p.Seq + uint32(i)) >> 8)}
				}
				if j.Put(p, now) {
					lastSeq = -1
				}
			case 2: // turns
				for range int(a%8) + 1 {
					kind, n := j.Next(now, buf)
					if kind == PlayFrame {
						seq := int64(buf[0]) | int64(buf[1])<<8
						if n != 2 || seq <= lastSeq {
							// frames of one burst come out in increasing order, once
							t.Fatalf("frame %d after %d", seq, lastSeq)
						}
						lastSeq = seq
					}
					if j.Depth() > len(j.ring) {
						t.Fatalf("depth %d beyond the ring", j.Depth())
					}
					now = now.Add(FrameDuration)
				}
			case 3:
				now = now.Add(time.Duration(a) * 10 * time.Millisecond)
				if b == 0 {
					j.Reset()
				}
			}
		}
	})
}
