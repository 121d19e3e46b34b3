package audio_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

// Playout scenarios on real speech, real Opus and the real Receiver, in
// virtual time: each packet arrives at the time a link schedule gives
// it, and the speaker takes a 20 ms turn at a time.

type burstPackets struct {
	pcm     []int16  // the speech, as captured
	packets [][]byte // voice packets of 3 frames, the last one ends the burst
}

// encodeBurst makes the packets a handset sends for pcm.
func encodeBurst(t testing.TB, pcm []int16, id uint32) burstPackets {
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := audio.NewPacketizer(enc, 3)
	pk.Begin(id)
	b := burstPackets{pcm: pcm}
	t0 := time.Unix(1763712000, 0)
	for f := 0; (f+1)*audio.FrameSamples <= len(pcm); f++ {
		p, err := pk.Add(pcm[f*audio.FrameSamples:(f+1)*audio.FrameSamples], t0)
		if err != nil {
			t.Fatal(err)
		}
		if p != nil {
			b.packets = append(b.packets, append([]byte(nil), p...))
		}
	}
	b.packets = append(b.packets, append([]byte(nil), pk.End()...))
	return b
}

// sendTime of packet i: when its third frame has been captured.
func sendTime(i int) time.Duration { return time.Duration(3*i+3) * audio.FrameDuration }

type turnLog struct {
	kind   audio.Playout
	excess time.Duration // delay above target at the turn
}

type playout struct {
	played []int16
	turns  []turnLog
	stats  audio.JitterStats
}

// runPlayout delivers b's packets at arrive(i) (after the burst's start)
// and plays turns until the burst ends.
func runPlayout(t testing.TB, rx *audio.Receiver, who string, b burstPackets, arrive func(i int) time.Duration) playout {
	t0 := time.Unix(1763712000, 0)
	var out playout
	pcm := make([]int16, audio.FrameSamples)
	next := 0
	order := make([]int, len(b.packets))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, c int) int { return int(arrive(a) - arrive(c)) })
	limit := len(b.pcm)/audio.FrameSamples + 1000
	for turn := 0; ; turn++ {
		if turn > limit {
			t.Fatalf("the burst never ended (%d turns)", turn)
		}
		now := t0.Add(time.Duration(turn) * audio.FrameDuration)
		for next < len(order) && arrive(order[next]) <= now.Sub(t0) {
			i := order[next]
			if err := rx.Put(who, b.packets[i], t0.Add(arrive(i))); err != nil {
				t.Fatal(err)
			}
			next++
		}
		kind, err := rx.Next(now, pcm)
		if err != nil {
			t.Fatal(err)
		}
		s := rx.Stats()
		out.turns = append(out.turns, turnLog{kind, time.Duration(s.DelayMs-s.TargetMs) * time.Millisecond})
		if kind == audio.PlayEnd {
			break
		}
		if kind != audio.PlayNothing {
			out.played = append(out.played, pcm...)
		}
	}
	out.stats = rx.Stats()
	return out
}

func newRx(t testing.TB, target int) *audio.Receiver {
	rx, err := audio.NewReceiver(audio.JitterConfig{Target: target, Max: 200})
	if err != nil {
		t.Fatal(err)
	}
	return rx
}

// A long burst of real speech: the test sentence three times.
func longSpeech(t testing.TB) []int16 { return repeat(speech(t), 3) }

// The handover: a 1.5 s stall in mid-burst, over TCP, so the
// packets held up arrive together when it ends. Nothing may be lost, and
// the backlog must be played away within 3 s of the stall's end.
func TestPlayoutStallLosesNothingAndCatchesUp(t *testing.T) {
	b := encodeBurst(t, longSpeech(t), 1)
	const base = 50 * time.Millisecond
	stallFrom, stallTo := 3*time.Second, 4500*time.Millisecond
	arrive := func(i int) time.Duration {
		a := sendTime(i) + base
		if a >= stallFrom && a < stallTo {
			a = stallTo
		}
		return a
	}
	rx := newRx(t, 2)
	// A first burst from the same speaker teaches the buffer the link.
	runPlayout(t, rx, "a", encodeBurst(t, speech(t), 9), func(i int) time.Duration { return sendTime(i) + base })
	before := rx.Stats()
	p := runPlayout(t, rx, "a", b, arrive)
	s := p.stats
	frames := uint64(len(b.pcm) / audio.FrameSamples)
	if got := s.Frames - before.Frames; got != frames || s.Concealed != 0 || s.Late != 0 || s.Trimmed != 0 || s.Skipped != 0 || s.Expired != 0 {
		t.Fatalf("%d of %d frames played: %+v", got, frames, s)
	}
	// The turn at which the backlog is caught up: the first after the
	// stall from which the delay stays within 40 ms of its target.
	stallEnd := int(stallTo/audio.FrameDuration) + 1
	caught := -1
	for i := len(p.turns) - 1; i > stallEnd; i-- {
		if p.turns[i].excess > 40*time.Millisecond {
			caught = i + 1
			break
		}
	}
	took := time.Duration(caught-stallEnd) * audio.FrameDuration
	heard := audiotest.Intelligible(b.pcm, p.played, audiotest.HeardThreshold)
	t.Logf("stall 1.5 s: caught up %v after it; %d quiet frames skipped, %d ms compressed, %d underruns; heard %.2f",
		took, s.SilenceSkipped-before.SilenceSkipped, s.CompressedMs-before.CompressedMs, s.Underruns-before.Underruns, heard)
	if caught < 0 || took > 3*time.Second {
		t.Errorf("backlog caught up %v after the stall, want ≤ 3 s", took)
	}
	if s.CompressedMs == 0 || s.SilenceSkipped == 0 {
		t.Errorf("expected both skipped pauses and compression: %+v", s)
	}
	// The speech as a listener hears it (spectra along a time warp: the
	// faster playout and shortened pauses are not taken for loss;
	// audiotest.Intelligible).
	if heard < 0.95 {
		t.Errorf("%.2f of the speech heard, want ≥ 0.95", heard)
	}
}

// jitterTrace is a cellular link: one-way delay base + |N(0, σ)|, packets
// released in order (a radio link does not reorder).
func jitterTrace(n int, base, sigma time.Duration, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed))
	arr := make([]time.Duration, n)
	for i := range arr {
		arr[i] = sendTime(i) + base + time.Duration(math.Abs(rng.NormFloat64())*float64(sigma))
		if i > 0 && arr[i] < arr[i-1] {
			arr[i] = arr[i-1]
		}
	}
	return arr
}

// p95Spread is what the trace's delay variation is: the 95th percentile
// of each packet's delay above the fastest packet's.
func p95Spread(arr []time.Duration) time.Duration {
	d := make([]time.Duration, len(arr))
	for i, a := range arr {
		d[i] = a - sendTime(i)
	}
	slices.Sort(d)
	return d[len(d)*95/100] - d[0]
}

// The target follows the link's measured spread: near one packet on a
// clean link (the burst plays as packets come), near the p95 of the delay
// variation on a jittery one, with few underruns.
func TestPlayoutTargetFollowsJitter(t *testing.T) {
	b := encodeBurst(t, longSpeech(t), 1)
	for _, tc := range []struct {
		name  string
		sigma time.Duration
	}{{"clean", 0}, {"σ 40 ms", 40 * time.Millisecond}, {"σ 75 ms", 75 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			rx := newRx(t, 2)
			warm := encodeBurst(t, speech(t), 9)
			wa := jitterTrace(len(warm.packets), 100*time.Millisecond, tc.sigma, 7)
			runPlayout(t, rx, "a", warm, func(i int) time.Duration { return wa[i] })
			before := rx.Stats()
			arr := jitterTrace(len(b.packets), 100*time.Millisecond, tc.sigma, 8)
			p := runPlayout(t, rx, "a", b, func(i int) time.Duration { return arr[i] })
			s := p.stats
			spread := p95Spread(arr[:len(arr)-1])
			target := time.Duration(s.TargetMs) * time.Millisecond
			turns := len(p.turns)
			under := s.Underruns - before.Underruns
			t.Logf("%s: trace p95 spread %v, target %v, underrun turns %d of %d, compressed %d ms, skipped %d quiet frames",
				tc.name, spread, target, under, turns, s.CompressedMs-before.CompressedMs, s.SilenceSkipped-before.SilenceSkipped)
			if tc.sigma == 0 {
				if target > 20*time.Millisecond {
					t.Errorf("clean link: target %v, want about nothing beyond the packet", target)
				}
			} else if target < spread*7/10 || target > spread*13/10 {
				t.Errorf("target %v, want within 30 %% of the trace's p95 spread %v", target, spread)
			}
			if float64(under) > 0.05*float64(turns) {
				t.Errorf("%d underrun turns of %d", under, turns)
			}
			if got := s.Frames - before.Frames; got != uint64(len(b.pcm)/audio.FrameSamples) || s.Late != 0 || s.Trimmed != 0 {
				t.Errorf("frames lost: %d played, %+v", got, s)
			}
		})
	}
}

// A single late packet inside speech: the playout falls behind its
// target by the packet's lateness, and must give it back without waiting
// for the next pause — a period of voiced sound at a time — and without
// losing speech. (With the pauses alone, 3g-poor's occasional late packet
// held the playout above target for seconds: its p95.)
func TestPlayoutGivesBackALatePacketInsideSpeech(t *testing.T) {
	b := encodeBurst(t, longSpeech(t), 1)
	const base, late = 50 * time.Millisecond, 80 * time.Millisecond
	arr := make([]time.Duration, len(b.packets))
	for i := range arr {
		arr[i] = sendTime(i) + base
		if i%25 == 12 {
			arr[i] += late // one packet in 25, released in order
		}
		if i > 0 && arr[i] < arr[i-1] {
			arr[i] = arr[i-1]
		}
	}
	rx := newRx(t, 2)
	runPlayout(t, rx, "a", encodeBurst(t, speech(t), 9), func(i int) time.Duration { return sendTime(i) + base })
	before := rx.Stats()
	p := runPlayout(t, rx, "a", b, func(i int) time.Duration { return arr[i] })
	s := p.stats
	var sum time.Duration
	above, playing := 0, 0
	for _, l := range p.turns {
		if l.kind == audio.PlayFrame || l.kind == audio.PlayConceal {
			playing++
			sum += max(l.excess, 0)
			if l.excess > 20*time.Millisecond {
				above++
			}
		}
	}
	heard := audiotest.Intelligible(b.pcm, p.played, audiotest.HeardThreshold)
	t.Logf("mean excess %v, %d of %d turns more than 20 ms above target; compressed %d ms, %d quiet frames skipped; heard %.2f",
		sum/time.Duration(playing), above, playing, s.CompressedMs-before.CompressedMs, s.SilenceSkipped-before.SilenceSkipped, heard)
	if got := s.Frames - before.Frames; got != uint64(len(b.pcm)/audio.FrameSamples) || s.Late != 0 || s.Trimmed != 0 {
		t.Errorf("frames lost: %d played, %+v", got, s)
	}
	if heard < 0.95 {
		t.Errorf("%.2f of the speech heard, want ≥ 0.95", heard)
	}
	// Given back in the pauses alone, 137 turns of 628 were more than
	// 20 ms above target (mean excess 23 ms); a period at a time, 64
	// (14 ms).
	if above > playing*15/100 || s.CompressedMs == before.CompressedMs {
		t.Errorf("%d of %d turns more than 20 ms above target, want ≤ 15 %%, and voiced frames shortened", above, playing)
	}
}

// The lead's loopback figure: on a clean link a burst from a speaker
// heard before plays its first frame the moment its first packet arrives
// — the jitter buffer adds nothing to the packet's 60 ms.
func TestPlayoutCleanLinkStartsOnTheFirstPacket(t *testing.T) {
	rx := newRx(t, 2)
	warm := encodeBurst(t, speech(t), 9)
	runPlayout(t, rx, "a", warm, func(i int) time.Duration { return sendTime(i) + time.Millisecond })
	b := encodeBurst(t, speech(t), 10)
	p := runPlayout(t, rx, "a", b, func(i int) time.Duration { return sendTime(i) + time.Millisecond })
	first := slices.IndexFunc(p.turns, func(l turnLog) bool { return l.kind == audio.PlayFrame })
	// Packet 0 arrives at 61 ms: the turn at 80 ms is the first after it.
	if first != 4 {
		t.Fatalf("first frame played at turn %d (%v), want 4 (80 ms)", first, time.Duration(first)*audio.FrameDuration)
	}
}

// FuzzReceiver feeds the whole receive path — packet parser, jitter
// buffer, Opus decoder, speed-up — hostile payloads from three speakers,
// with floor changes and turns between: it must never panic, hang or
// fail (a bad frame is concealed and counted, not an error).
func FuzzReceiver(f *testing.F) {
	b := encodeBurst(f, speech(f)[:16000], 3)
	f.Add(b.packets[0], b.packets[1], uint8(3))
	f.Add(b.packets[2], []byte{1, 1, 1, 20, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0xFC}, uint8(9))
	f.Fuzz(func(t *testing.T, p1, p2 []byte, ops uint8) {
		rx, err := audio.NewReceiver(audio.JitterConfig{Target: 1, Max: 50, BurstTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1763712000, 0)
		pcm := make([]int16, audio.FrameSamples)
		for i := range 40 {
			switch (int(ops) + i) % 7 {
			case 0:
				rx.Put("a", p1, now)
			case 1:
				rx.Put("b", p2, now)
			case 2:
				rx.FloorIdle(now)
			case 3:
				rx.FloorTaken("b", now)
			}
			if _, err := rx.Next(now, pcm); err != nil {
				t.Fatal(err)
			}
			now = now.Add(audio.FrameDuration)
		}
	})
}
