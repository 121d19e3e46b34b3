package audio

import (
	"slices"
	"strings"
	"time"
)

// The adaptive playout target. For every packet the buffer notes how much
// later than the burst's fastest packet it arrived, counted in the
// sender's frame clock: arrival − seq × 20 ms, minus the smallest such
// value of the burst. A packet that came as fast as the best one scores 0;
// one held up 80 ms by the network scores 80 ms. The target delay is the
// 95th percentile of the last delaySamples scores of that speaker: with
// it, 19 packets in 20 are in time and the 20th stretches the playout by
// a concealed frame or two, which the buffer then catches up. On a clean
// link every score is about 0, so a burst starts playing as its first
// packet arrives: the only delay left is the packet itself.
//
// A stall (a handover, a TCP retransmission) is not jitter: the packets
// held up by it score far above the target, and the backlog behind it
// arrives together. Counting those would raise the target to the stall
// for the next few hundred packets, so a packet scoring over stallScore
// and the packets that arrive right behind it are left out; the backlog
// they leave is played faster instead (Receiver).

const (
	delaySamples = 128 // per speaker: about 8 s of packets of 3 frames
	// minSamples before a speaker's own measurement replaces the
	// configured initial target.
	minSamples = 8
	// speakerSlots bounds the speakers remembered; the least recently
	// heard is forgotten first.
	speakerSlots = 16
)

// stallScore is the score above which a packet is taken for a stall, not
// jitter: 150 ms above the target. A link that gets worse still raises the
// target, by steps, because the limit follows it. Over TCP a lost segment
// holds everything behind it for about a round trip and more (200–400 ms
// on a poor 3G link): at twice the target and 200 ms more (before), those
// counted as jitter, the target climbed after them and every frame waited
// for the worst retransmission (3g-poor over MQTT: mouth-to-ear p50
// 465 ms, now 325 ms, as much heard; BENCHMARKS.md).
func stallScore(target time.Duration) time.Duration { return target + 150*time.Millisecond }

// speaker is what the buffer learnt about one sender's link.
type speaker struct {
	name  string
	used  uint64 // LRU clock of the last burst
	n     int    // scores held, ≤ delaySamples
	pos   int
	score [delaySamples]uint16 // ms, capped
}

func (s *speaker) add(d time.Duration) {
	ms := min(d.Milliseconds(), 65535)
	s.score[s.pos] = uint16(max(ms, 0))
	s.pos = (s.pos + 1) % delaySamples
	s.n = min(s.n+1, delaySamples)
}

// p95 of the scores; scratch holds delaySamples values.
func (s *speaker) p95(scratch []uint16) time.Duration {
	if s.n == 0 {
		return 0
	}
	v := scratch[:s.n]
	copy(v, s.score[:s.n])
	slices.Sort(v)
	return time.Duration(v[(s.n*95+99)/100-1]) * time.Millisecond
}

// speakers is a small LRU of what was learnt per sender; it allocates
// only the first time a name is seen (the name's copy).
type speakers struct {
	slot    [speakerSlots]speaker
	clock   uint64
	scratch [delaySamples]uint16
}

// get returns the slot of name, taking the least recently used one other
// than busy (the other burst's speaker) for a new name.
func (ss *speakers) get(name string, busy *speaker) *speaker {
	ss.clock++
	var victim *speaker
	for i := range ss.slot {
		s := &ss.slot[i]
		if s.used != 0 && s.name == name {
			s.used = ss.clock
			return s
		}
		if s == busy {
			continue
		}
		if victim == nil || s.used < victim.used {
			victim = s
		}
	}
	*victim = speaker{name: strings.Clone(name), used: ss.clock}
	return victim
}

// start is where a burst of s starts before s has been measured enough:
// the configured initial value, or what every other speaker measured
// here needs if that is more. All speakers reach this handset over its
// one downlink, so the least any of them needs is the downlink's part,
// which a speaker not heard before will need too: on a jittery link its
// first burst then does not start too early and stretch while it learns.
// (Computed once per burst: a sort per remembered speaker.)
func (ss *speakers) start(s *speaker, initial time.Duration) time.Duration {
	least, any := time.Duration(0), false
	for i := range ss.slot {
		o := &ss.slot[i]
		if o == s || o.used == 0 || o.n < minSamples {
			continue
		}
		if t := o.p95(ss.scratch[:]); !any || t < least {
			least, any = t, true
		}
	}
	return max(initial, least)
}

// target is the playout delay for s: initial (see start) until enough
// packets were measured, then the measured p95.
func (ss *speakers) target(s *speaker, initial, most time.Duration) time.Duration {
	t := s.p95(ss.scratch[:])
	if s.n < minSamples {
		t = max(t, initial)
	}
	return min(t, most)
}
