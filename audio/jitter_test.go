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
// "c+<seq>" conceal with the next frame's FEC, "s" a stall (turn held),
// "-" nothing, "end".
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
	case PlayStall:
		return "s"
	case PlayEnd:
		return "end"
	}
	return "-"
}

// play runs k turns of 20 ms from jt0; before turn i, the packets of
// puts[i] arrive (from speaker "a").
func play(j *Jitter, k int, puts map[int][]*wire.VoicePacket) []string {
	var out []string
	for i := 0; i < k; i++ {
		now := jt0.Add(time.Duration(i) * FrameDuration)
		for _, p := range puts[i] {
			j.Put("a", p, now)
		}
		out = append(out, turn(j, now))
	}
	return out
}

type puts = map[int][]*wire.VoicePacket

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func newJ(t *testing.T, target, max int) *Jitter {
	j, err := NewJitter(JitterConfig{Target: target, Max: max, BurstTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJitterBuffersThenPlaysInOrder(t *testing.T) {
	j := newJ(t, 3, 10)
	if !j.Put("a", pkt(1, 2, 2, false), jt0) { // overtook the first packet
		t.Fatal("first packet did not start a burst")
	}
	eq(t, play(j, 1, nil), "-") // 40 ms of audio < the initial target of 60 ms
	j.Put("a", pkt(1, 0, 2, false), jt0)
	j.Put("a", pkt(1, 4, 1, true), jt0)
	eq(t, play(j, 7, nil), "f0", "f1", "f2", "f3", "f4", "end", "-")
	if s := j.Stats(); s.Frames != 5 || s.Late != 0 || s.Concealed != 0 || s.Bursts != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestJitterStartsAfterTheInitialTarget(t *testing.T) {
	j := newJ(t, 2, 10) // 40 ms for a speaker not heard before
	got := play(j, 6, puts{0: {pkt(1, 0, 3, false)}, 3: {pkt(1, 3, 3, true)}})
	eq(t, got, "-", "-", "f0", "f1", "f2", "f3")
}

// A link the voice path measured as calm lets a speaker not heard before
// start lower than the configured target; a jittery one never raises it,
// and without a measurement the configured target stands.
func TestJitterStartFollowsTheLinkHint(t *testing.T) {
	for _, c := range []struct {
		name   string
		hint   time.Duration
		ok     bool
		starts int // turns of silence before f0
	}{
		{"no hint", 0, false, 3},
		{"clean link: one frame", 300 * time.Microsecond, true, 1},
		{"4G-like: half of 50 ms is about one frame", 50 * time.Millisecond, true, 1},
		{"half of 90 ms: two frames", 90 * time.Millisecond, true, 2},
		{"jittery: no higher than the target", 400 * time.Millisecond, true, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := newJ(t, 3, 10) // 60 ms for a speaker not heard before
			j.SetLinkHint(c.hint, c.ok)
			got := play(j, 6, puts{0: {pkt(1, 0, 3, false)}, 3: {pkt(1, 3, 3, true)}})
			want := []string{}
			for range c.starts {
				want = append(want, "-")
			}
			want = append(want, "f0", "f1", "f2", "f3", "f4", "f5")[:6]
			eq(t, got, want...)
		})
	}
}

func TestJitterConcealsLossWithFEC(t *testing.T) {
	j := newJ(t, 2, 10)
	// frames 2,3 lost; 4,5 in time; 6 lost, 7 is the last packet's
	got := play(j, 11, puts{0: {pkt(1, 0, 2, false)}, 4: {pkt(1, 4, 2, false)}, 7: {pkt(1, 7, 1, true)}})
	eq(t, got, "-", "-", "f0", "f1", "c", "c+4", "f4", "f5", "c+7", "f7", "end")
	if s := j.Stats(); s.Concealed != 3 || s.FEC != 2 || s.Frames != 5 || s.Skipped != 0 {
		t.Fatalf("%+v", s)
	}
}

// A second copy of a frame is a duplicate, whether it comes while the
// first waits or after the first played (over UDP, the broker's copy of a
// burst's first packets); a frame that comes after its turn was concealed
// is late.
func TestJitterLateAndDuplicate(t *testing.T) {
	j := newJ(t, 0, 10)
	j.Put("a", pkt(1, 0, 1, false), jt0)
	j.Put("a", pkt(1, 1, 1, false), jt0)
	eq(t, play(j, 1, nil), "f0")
	j.Put("a", pkt(1, 1, 1, false), jt0) // again, while waiting
	j.Put("a", pkt(1, 0, 1, false), jt0) // again, after it played
	eq(t, play(j, 1, nil), "f1")
	j.Put("a", pkt(1, 3, 1, false), jt0) // 2 is missing
	eq(t, play(j, 1, nil), "c+3")
	j.Put("a", pkt(1, 2, 1, false), jt0) // after its turn was concealed
	if s := j.Stats(); s.Duplicates != 2 || s.Late != 1 {
		t.Fatalf("%+v", s)
	}
}

// A burst arriving while one plays waits behind it — the floor moved on,
// so the first ends when drained — and plays after it, nothing lost; a
// third at the same time is dropped and counted.
func TestJitterNextBurstWaitsBehind(t *testing.T) {
	j := newJ(t, 0, 10)
	got := play(j, 9, puts{
		0: {pkt(1, 0, 2, false)},
		1: {pkt(2, 0, 3, false), pkt(3, 0, 1, false)},
		5: {pkt(2, 3, 0, true)},
	})
	eq(t, got, "f0", "f1", "end", "f0", "f1", "f2", "end", "-", "-")
	j.Put("a", pkt(1, 2, 1, false), jt0) // a straggler of an ended burst
	if s := j.Stats(); s.Other != 1 || s.Late != 1 || s.Bursts != 2 || s.Frames != 5 || s.Underruns != 0 {
		t.Fatalf("%+v", s)
	}
}

// While the floor is held a pause never ends a burst: the turn is held,
// so the speech after the pause plays in full.
func TestJitterPauseWhileFloorHeldKeepsTheBurst(t *testing.T) {
	j := newJ(t, 0, 10) // BurstTimeout 1 s
	got := play(j, 45, puts{0: {pkt(1, 0, 2, false)}, 42: {pkt(1, 2, 2, true)}})
	want := []string{"f0", "f1"}
	for range 40 {
		want = append(want, "s")
	}
	eq(t, got, append(want, "f2", "f3", "end")...)
	if s := j.Stats(); s.Expired != 0 || s.Underruns != 40 || s.Frames != 4 {
		t.Fatalf("%+v", s)
	}
}

// A burst whose last packet was lost ends when the floor goes idle (after
// playing what it has and a short grace for packets on their way), and
// only by the safety bound without it.
func TestJitterLostLastPacketEndsAtFloorIdle(t *testing.T) {
	j := newJ(t, 0, 10)
	eq(t, play(j, 4, puts{0: {pkt(1, 0, 2, false)}}), "f0", "f1", "s", "s")
	now := jt0.Add(4 * FrameDuration)
	j.FloorIdle(now)
	var got []string
	for i := range 12 {
		got = append(got, turn(j, now.Add(time.Duration(i)*FrameDuration)))
	}
	eq(t, got, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "end", "-") // endGrace 200 ms
	if s := j.Stats(); s.Expired != 0 {
		t.Fatalf("%+v", s)
	}

	// Without the floor's word: the safety bound, counted.
	j.Put("b", pkt(2, 0, 1, false), jt0)
	got = nil
	for i := range 60 {
		if k := turn(j, jt0.Add(time.Duration(i)*FrameDuration)); k != "s" && k != "-" {
			got = append(got, fmt.Sprint(i, k))
		}
	}
	eq(t, got, "0f0", "50end")
	if s := j.Stats(); s.Expired != 1 {
		t.Fatalf("%+v", s)
	}
}

// FloorIdle does not cut off what is buffered, and packets still on their
// way when it comes play too.
func TestJitterFloorIdleKeepsBufferedVoice(t *testing.T) {
	j := newJ(t, 0, 10)
	j.Put("a", pkt(1, 0, 3, false), jt0)
	j.FloorIdle(jt0)
	got := play(j, 7, puts{2: {pkt(1, 3, 2, false)}})
	eq(t, got, "f0", "f1", "f2", "f3", "f4", "-", "-")
}

// The floor's idle says how much of the burst the platform relayed: on a
// link that delivers it ahead of voice a stall holds back, the rest is
// waited for and played, not taken for stragglers of an ended burst.
func TestJitterFloorIdleWaitsForWhatWasRelayed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		idle  func(j *Jitter, now time.Time)
		late  uint64
		plays int
	}{
		{"with the relayed end", func(j *Jitter, now time.Time) { j.FloorIdleAfter(1, 6, now) }, 0, 6},
		{"without it", func(j *Jitter, now time.Time) { j.FloorIdle(now) }, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJ(t, 0, 50)
			j.Put("a", pkt(1, 0, 3, false), jt0)
			tc.idle(j, jt0)
			// The stall releases frames 3–5 half a second later.
			got := play(j, 40, puts{25: {pkt(1, 3, 3, false)}})
			frames := 0
			for _, k := range got {
				if k[0] == 'f' {
					frames++
				}
			}
			if s := j.Stats(); frames != tc.plays || s.Late != tc.late {
				t.Fatalf("%d frames played, %d late; turns %q", frames, s.Late, got)
			}
		})
	}
}

// A sender that repeats the last frame of each packet at the head of the
// next (the UDP path's redundancy): a lost packet costs one concealed
// frame instead of two, the repeat counts as a duplicate, and the
// packets' timing — hence the target — is what it would be without it.
func TestJitterRepeatedHeadFrame(t *testing.T) {
	plain := func(seq uint32) *wire.VoicePacket { return pkt(1, seq, 3, false) }
	repeated := func(seq uint32) *wire.VoicePacket {
		if seq == 0 {
			return pkt(1, 0, 3, false)
		}
		return pkt(1, seq-1, 4, false)
	}
	for _, tc := range []struct {
		name string
		mk   func(uint32) *wire.VoicePacket
		gone uint64 // frames whose content is not had: skipped, or concealed without FEC
	}{
		{"plain", plain, 2},
		{"repeated", repeated, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJ(t, 0, 20)
			in := puts{}
			for k := uint32(0); k < 6; k++ {
				if k != 1 { // packet 1 (frames 3–5) is lost
					in[int(3*k)] = []*wire.VoicePacket{tc.mk(3 * k)}
				}
			}
			turns := play(j, 20, in)
			s := j.Stats()
			if gone := s.Skipped + s.Concealed - s.FEC; gone != tc.gone {
				t.Errorf("%d frames gone (%+v), want %d; turns %q", gone, s, tc.gone, turns)
			}
			if tc.name == "repeated" && (s.Duplicates < 3 || s.Late != 0) {
				t.Errorf("%d duplicates, %d late: a repeated frame that played is a duplicate", s.Duplicates, s.Late)
			}
			if tgt := j.Target(); tgt >= FrameDuration {
				t.Errorf("target %v: the repeated frame counted as late", tgt)
			}
		})
	}
}

func TestJitterFloorTakenEndsOtherSpeakers(t *testing.T) {
	j := newJ(t, 0, 10)
	j.Put("a", pkt(1, 0, 2, false), jt0)
	j.FloorTaken("a", jt0) // the same speaker: nothing ends
	eq(t, play(j, 3, nil), "f0", "f1", "s")
	j.FloorTaken("b", jt0.Add(60*time.Millisecond))
	got := play(j, 16, nil)[3:]
	eq(t, got[9:], "-", "end", "-", "-")
}

// Beyond the hard bound the oldest frames go, counted; below it nothing.
func TestJitterHardBound(t *testing.T) {
	j := newJ(t, 0, 6)
	eq(t, play(j, 2, puts{0: {pkt(1, 0, 1, false)}}), "f0", "s")
	for s := uint32(1); s < 13; s += 3 { // 12 frames at once
		j.Put("a", pkt(1, s, 3, false), jt0.Add(40*time.Millisecond))
	}
	eq(t, []string{turn(j, jt0.Add(40*time.Millisecond))}, "f7")
	if s := j.Stats(); s.Trimmed != 6 || j.Depth() != 5 {
		t.Fatalf("%+v depth %d", s, j.Depth())
	}
}

// A sequence number far from the turn, either way, costs O(ring): the
// old buffer walked every number in between (4 billion for 0 →
// 0xFFFFFFF0, seconds per packet with the output locked).
func TestJitterExtremeSequenceJumps(t *testing.T) {
	j := newJ(t, 0, 200)
	buf := make([]byte, wire.MaxOpusFrame)
	now := jt0
	seqs := []uint32{0, 0xFFFFFFF0, 1 << 31, 7, 0x7FFFFFFF, 0xFFFFFFFF, 3}
	start := time.Now()
	for i := range 20000 {
		p := pkt(1, seqs[i%len(seqs)]+uint32(i), 3, i%97 == 0)
		j.Put("a", p, now)
		j.Next(now, buf)
		if j.Depth() > len(j.cur.ring) || j.Depth() < 0 {
			t.Fatalf("depth %d", j.Depth())
		}
		now = now.Add(FrameDuration)
	}
	// 20 000 packets; the old code would take years. Generous for -race
	// and a loaded machine: this is a hang detector, not a timing.
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("20 000 jumps took %v", d)
	}
}

// The target follows the measured jitter, per speaker, and carries to
// the speaker's next burst; a speaker not heard before starts at the
// configured initial target.
func TestJitterTargetLearntPerSpeaker(t *testing.T) {
	j := newJ(t, 5, 100)
	send := func(who string, id uint32, late func(i int) time.Duration, start time.Time) {
		for i := range 60 {
			p := pkt(id, uint32(3*i), 3, i == 59)
			j.Put(who, p, start.Add(time.Duration(i)*60*time.Millisecond+late(i)))
		}
		for range 200 {
			j.Next(start, make([]byte, wire.MaxOpusFrame)) // drain it
		}
	}
	// Every 5th packet of a is 80 ms late, the others in time.
	send("a", 1, func(i int) time.Duration { return time.Duration(i%5/4) * 80 * time.Millisecond }, jt0)
	if got := j.Target(); got != 80*time.Millisecond {
		t.Fatalf("a's target %v, want 80ms", got)
	}
	j.Put("a", pkt(2, 0, 3, false), jt0.Add(time.Minute))
	if got := j.Target(); got != 80*time.Millisecond {
		t.Fatalf("a's next burst starts at %v, want 80ms", got)
	}
	j.Reset()
	j.Put("b", pkt(3, 0, 3, false), jt0.Add(2*time.Minute))
	if got := j.Target(); got != 100*time.Millisecond {
		t.Fatalf("b (never heard) starts at %v, want the initial 100ms", got)
	}
	j.Reset()
	send("c", 4, func(int) time.Duration { return 0 }, jt0.Add(3*time.Minute))
	if got := j.Target(); got != 0 {
		t.Fatalf("c on a clean link: target %v, want 0", got)
	}

	// A speaker not heard before starts at what every speaker measured
	// here needs at least (this handset's downlink), when that is more
	// than the initial value.
	j = newJ(t, 2, 100)
	send("a", 1, func(i int) time.Duration { return time.Duration(i%5/4) * 80 * time.Millisecond }, jt0)
	j.Reset()
	j.Put("d", pkt(5, 0, 3, false), jt0.Add(time.Minute))
	if got := j.Target(); got != 80*time.Millisecond {
		t.Fatalf("d (never heard, after a at 80ms) starts at %v, want 80ms", got)
	}
	j.Reset()
	send("c", 6, func(int) time.Duration { return 0 }, jt0.Add(2*time.Minute))
	j.Reset()
	j.Put("e", pkt(7, 0, 3, false), jt0.Add(3*time.Minute))
	if got := j.Target(); got != 40*time.Millisecond {
		t.Fatalf("e (never heard; c needs nothing) starts at %v, want the initial 40ms", got)
	}
}

// The speakers remembered are bounded: the least recently heard goes.
func TestJitterSpeakersLRU(t *testing.T) {
	var ss speakers
	a := ss.get("a", nil)
	a.add(time.Second)
	for i := range speakerSlots - 1 {
		ss.get(fmt.Sprint("s", i), nil)
	}
	if ss.get("a", nil) != a || a.n != 1 {
		t.Fatal("a was forgotten while there was room")
	}
	ss.get("new", nil) // evicts s0, the least recent
	if ss.get("a", nil).n != 1 {
		t.Fatal("a, recently used, was evicted")
	}
	if s := ss.get("s0", a); s.n != 0 || s == a {
		t.Fatal("s0 should be new, and never take a busy slot")
	}
}

func TestJitterConfig(t *testing.T) {
	for _, c := range []JitterConfig{{Target: 3, Max: 2}, {Target: -1, Max: 2}, {Max: 0}, {Max: 501}} {
		if _, err := NewJitter(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestJitterNoAlloc(t *testing.T) {
	j := newJ(t, 3, 10)
	p := pkt(1, 0, 3, false)
	buf := make([]byte, wire.MaxOpusFrame)
	now := jt0
	allocs := testing.AllocsPerRun(200, func() {
		j.Put("a", p, now)
		for range 3 {
			j.Next(now, buf)
			now = now.Add(FrameDuration)
		}
		p.Seq += 3
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

// FuzzJitter drives the buffer with arbitrary packet streams: bursts,
// sequence numbers anywhere in 2³² (jumps both ways), duplicates, ends,
// floor changes and turns in any order. It must never panic or hang,
// never play a frame twice, keep the depth within the ring, and play the
// frames of one burst in increasing order.
func FuzzJitter(f *testing.F) {
	f.Add([]byte{0, 1, 0, 3, 1, 1, 1, 3, 2, 2, 2, 0})
	f.Add([]byte{0, 1, 200, 3, 0, 2, 0, 3, 3, 3, 3, 3, 0, 1, 1, 10})
	f.Add([]byte{0, 1, 0, 0x43, 0, 1, 0xFF, 0xF3, 2, 7, 0, 0, 0, 1, 0x80, 0x03, 2, 7, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		j, _ := NewJitter(JitterConfig{Target: 2, Max: 6, BurstTimeout: 100 * time.Millisecond})
		now := jt0
		buf := make([]byte, wire.MaxOpusFrame)
		last := map[uint32]uint32{} // burst → last seq played + 1
		jumped := map[uint32]bool{} // burst → a packet far from it came since
		for len(ops) >= 4 {
			op, a, b, c := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			switch op % 5 {
			case 0, 1: // a packet: burst a%4, seq from b (high byte) and c, c%4 frames
				p := &wire.VoicePacket{Burst: uint32(a % 4), Seq: uint32(b)<<24 | uint32(b)<<4 | uint32(c>>2), NFrames: int(c % 4), Last: op%5 == 1}
				for i := 0; i < p.NFrames; i++ {
					s := p.Seq + uint32(i)
					p.Frames[i] = []byte{byte(p.Burst), byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
				}
				if prev, ok := last[p.Burst]; ok && (p.Seq-prev+1<<20) > 1<<21 {
					jumped[p.Burst] = true
				}
				j.Put(string(rune('a'+a%3)), p, now)
			case 2: // turns
				for range int(a%8) + 1 {
					kind, n := j.Next(now, buf)
					if kind == PlayFrame {
						id := uint32(buf[0])
						seq := uint32(buf[1])<<24 | uint32(buf[2])<<16 | uint32(buf[3])<<8 | uint32(buf[4])
						if n != 5 {
							t.Fatalf("frame of %d bytes", n)
						}
						// In order: never a step back — unless a packet far
						// away came in between (serial numbers: jumps forward
						// may add up to anywhere).
						if prev, ok := last[id]; ok && !jumped[id] && before(seq, prev) {
							t.Fatalf("burst %d: frame %#x after %#x", id, seq, prev-1)
						}
						jumped[id] = false
						last[id] = seq + 1
					}
					if kind == PlayEnd {
						id, _ := j.Active()
						delete(last, id)
						clear(last) // a burst id may come again as a new burst
					}
					if d := j.Depth(); d > len(j.cur.ring) || d < 0 {
						t.Fatalf("depth %d beyond the ring", d)
					}
					now = now.Add(FrameDuration)
				}
			case 3:
				now = now.Add(time.Duration(a) * 10 * time.Millisecond)
				switch b % 4 {
				case 0:
					j.Reset()
					clear(last)
				case 1:
					j.FloorIdle(now)
				case 2:
					j.FloorTaken(string(rune('a'+c%3)), now)
				}
			case 4:
				j.Next(now, buf)
			}
		}
	})
}

// A relayed tail of a packet or two that has not come when the floor
// went idle was lost (UDP drops the last packet as it drops any other):
// the burst ends after lostWait, not after BurstTimeout. A longer tail is
// a stall's backlog: waited for, and played when it comes.
func TestJitterLostTailEndsSoonStallTailIsWaitedFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		relayed uint32
		arrives int // turn at which the tail comes; 0: never
		endBy   int // the turn the burst ends by
		frames  uint64
	}{
		{"last packet lost", 9, 0, 6 + int((lostWait+endGrace)/FrameDuration) + 2, 6},
		{"a stall holds 2 s", 60, 100, 160, 60},
		{"a stall's tail never comes", 60, 0, 6 + int(5*time.Second/FrameDuration) + 12, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := NewJitter(JitterConfig{Target: 0, Max: 200, BurstTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			in := puts{0: {pkt(1, 0, 3, false)}, 3: {pkt(1, 3, 3, false)}}
			if tc.arrives > 0 {
				for s := uint32(6); s < tc.relayed; s += 3 {
					in[tc.arrives] = append(in[tc.arrives], pkt(1, s, 3, false))
				}
			}
			ended := -1
			for i := 0; i < 400 && ended < 0; i++ {
				now := jt0.Add(time.Duration(i) * FrameDuration)
				if i == 6 {
					j.FloorIdleAfter(1, tc.relayed, now)
				}
				for _, p := range in[i] {
					j.Put("a", p, now)
				}
				if turn(j, now) == "end" {
					ended = i
				}
			}
			if s := j.Stats(); ended < 0 || ended > tc.endBy || s.Frames != tc.frames {
				t.Fatalf("ended at turn %d (want by %d), %d frames played (want %d)", ended, tc.endBy, s.Frames, tc.frames)
			}
		})
	}
}

// A TCP retransmission is a stall, not jitter: one packet in 16 held up
// 170 ms, the packets behind it released with it (in order). The target
// stays where the link's jitter is (none here); counting the held-up
// packets raised it to the retransmissions' delay, and every frame of the
// burst waited that long (3g-poor over MQTT: mouth-to-ear p50 465 ms).
func TestJitterRetransmissionsDoNotRaiseTheTarget(t *testing.T) {
	j := newJ(t, 0, 100)
	var release time.Time
	for i := range 200 {
		at := jt0.Add(time.Duration(i) * 60 * time.Millisecond)
		if i%16 == 8 {
			at = at.Add(170 * time.Millisecond)
		}
		if at.Before(release) {
			at = release // in order: nothing overtakes the held-up packet
		}
		release = at
		j.Put("a", pkt(1, uint32(3*i), 3, false), at)
		j.Next(at, make([]byte, wire.MaxOpusFrame))
	}
	if got := j.Target(); got > 20*time.Millisecond {
		t.Fatalf("target %v after retransmission stalls on a link without jitter, want ≤ 20ms", got)
	}
}
