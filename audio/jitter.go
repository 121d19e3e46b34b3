package audio

import (
	"errors"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// JitterConfig sizes the receive buffer in frames of 20 ms.
type JitterConfig struct {
	// Target is how many frames are buffered before a burst starts
	// playing: the delay bought to ride out network jitter.
	Target int
	// Max bounds the delay: when more than Max frames wait (the network
	// stalled, then delivered a backlog at once), the oldest are dropped
	// down to Target.
	Max int
	// Silence ends a burst whose last packet never came (QoS 0 may lose
	// it): no packet for this long and nothing left to play.
	Silence time.Duration
}

// JitterStats count what the buffer did.
type JitterStats struct {
	Bursts     uint64 // talk bursts started
	Frames     uint64 // frames played as received
	Concealed  uint64 // frames missing at their turn, filled by PLC or FEC
	FEC        uint64 // … of which recovered from the next frame's FEC
	Late       uint64 // frames that arrived after their turn: dropped
	Duplicates uint64 // frames received twice: dropped
	Trimmed    uint64 // frames dropped to bring the delay back under Max
	Underruns  uint64 // turns with nothing newer received (a stall)
	Other      uint64 // frames of a second speaker while one was playing: dropped
	Expired    uint64 // bursts ended by silence instead of a last packet
}

// Playout says what Next produced.
type Playout uint8

const (
	PlayNothing Playout = iota // no burst, or still buffering: play nothing (or silence)
	PlayFrame                  // a received frame
	PlayConceal                // a missing frame: conceal (FEC from Next's frame when it returned one)
	PlayEnd                    // the burst is over
)

type jslot struct {
	seq   uint32
	valid bool
	n     int
	data  [wire.MaxOpusFrame]byte
}

// Jitter is the receive buffer of one speaker at a time: frames of the
// current burst wait in a ring indexed by sequence number and come out one
// per 20 ms turn in order; a frame missing at its turn is concealed, a
// frame arriving after its turn is dropped and counted. Frames of another
// burst are dropped while the current one plays (one speaker at a time);
// the floor decides who that is, the buffer only keeps them from mixing.
//
// It allocates only in NewJitter. It is not safe for concurrent use.
type Jitter struct {
	cfg       JitterConfig
	ring      []jslot
	active    bool
	playing   bool
	burst     uint32
	lastBurst uint32 // the burst that ended last: its stragglers are late
	next      uint32 // sequence number of the next frame to play
	highest   uint32 // one past the highest sequence received
	ended     bool
	endSeq    uint32
	lastPut   time.Time
	stats     JitterStats
}

// NewJitter checks cfg and allocates the ring.
func NewJitter(cfg JitterConfig) (*Jitter, error) {
	if cfg.Target < 1 || cfg.Max < cfg.Target || cfg.Max > 500 {
		return nil, errors.New("jitter buffer: need 1 ≤ target ≤ max ≤ 500 frames")
	}
	if cfg.Silence <= 0 {
		cfg.Silence = time.Second
	}
	// Room for Max frames plus one packet in flight beyond it.
	return &Jitter{cfg: cfg, ring: make([]jslot, cfg.Max+wire.MaxVoiceFrames+1)}, nil
}

// Stats returns the counters.
func (j *Jitter) Stats() JitterStats { return j.stats }

// Active reports whether a burst is being received or played, and its id.
func (j *Jitter) Active() (uint32, bool) { return j.burst, j.active }

// Depth is how many frames are buffered ahead of the next turn.
func (j *Jitter) Depth() int {
	if !j.active {
		return 0
	}
	return int(j.highest - j.next)
}

// Reset drops the current burst (the floor moved to someone else).
func (j *Jitter) Reset() {
	if j.active {
		j.lastBurst = j.burst
	}
	j.active, j.playing = false, false
}

// Put takes a decoded voice packet received at now. It reports whether the
// packet started a new burst (the caller resets its decoder).
func (j *Jitter) Put(p *wire.VoicePacket, now time.Time) (started bool) {
	if !j.active || p.Burst != j.burst {
		switch {
		case p.Burst == j.lastBurst && j.stats.Bursts > 0:
			// A straggler of the burst that ended last.
			j.stats.Late += uint64(p.NFrames)
			return false
		case j.active && !j.ended && now.Sub(j.lastPut) < j.cfg.Silence:
			j.stats.Other += uint64(p.NFrames)
			return false
		}
		if j.active {
			j.lastBurst = j.burst
		}
		j.start(p)
		started = true
	}
	j.lastPut = now
	for i := 0; i < p.NFrames; i++ {
		seq := p.Seq + uint32(i)
		if seq < j.next {
			if j.playing || j.highest-seq >= uint32(len(j.ring)) {
				j.stats.Late++
				continue
			}
			// Not playing yet: an earlier packet overtaken by a later one
			// still has its turn.
			j.next = seq
		}
		if seq-j.next >= uint32(len(j.ring)) {
			// Far ahead of the turn: everything before it would be trimmed
			// anyway. Move the turn up so the frame fits.
			j.skipTo(seq)
		}
		s := &j.ring[seq%uint32(len(j.ring))]
		if s.valid && s.seq == seq {
			j.stats.Duplicates++
			continue
		}
		s.seq, s.valid, s.n = seq, true, copy(s.data[:], p.Frames[i])
		if seq+1 > j.highest {
			j.highest = seq + 1
		}
	}
	if p.Last {
		j.ended, j.endSeq = true, p.Seq+uint32(p.NFrames)
		if j.endSeq > j.highest {
			j.highest = j.endSeq
		}
	}
	return started
}

func (j *Jitter) start(p *wire.VoicePacket) {
	for i := range j.ring {
		j.ring[i].valid = false
	}
	j.active, j.playing, j.ended = true, false, false
	j.burst, j.next, j.highest = p.Burst, p.Seq, p.Seq
	j.stats.Bursts++
}

// skipTo drops every frame before seq.
func (j *Jitter) skipTo(seq uint32) {
	for ; j.next < seq; j.next++ {
		s := &j.ring[j.next%uint32(len(j.ring))]
		if s.valid && s.seq == j.next {
			s.valid = false
			j.stats.Trimmed++
		}
	}
}

// Next is one 20 ms turn at now. For PlayFrame it copies the frame into
// dst and returns its length; for PlayConceal it copies the following
// frame, when that one is already here, so the caller can recover the
// missing one from its FEC (length 0: plain PLC). dst must hold
// wire.MaxOpusFrame bytes.
func (j *Jitter) Next(now time.Time, dst []byte) (Playout, int) {
	if !j.active {
		return PlayNothing, 0
	}
	if !j.playing {
		if int(j.highest-j.next) < j.cfg.Target && !j.ended {
			if now.Sub(j.lastPut) >= j.cfg.Silence { // a burst too short to fill the buffer, cut off
				return j.finish(true), 0
			}
			return PlayNothing, 0
		}
		j.playing = true
	}
	if j.ended && j.next >= j.endSeq {
		return j.finish(false), 0
	}
	if int(j.highest-j.next) > j.cfg.Max {
		j.skipTo(j.highest - uint32(j.cfg.Target))
	}
	if s := &j.ring[j.next%uint32(len(j.ring))]; s.valid && s.seq == j.next {
		s.valid = false
		j.next++
		j.stats.Frames++
		return PlayFrame, copy(dst, s.data[:s.n])
	}
	if j.highest > j.next+1 || j.ended {
		// Lost (or later than the buffer allows): conceal and move on.
		j.next++
		j.stats.Concealed++
		if s := &j.ring[j.next%uint32(len(j.ring))]; s.valid && s.seq == j.next {
			j.stats.FEC++
			return PlayConceal, copy(dst, s.data[:s.n])
		}
		return PlayConceal, 0
	}
	// Nothing newer has arrived: the network stalled, or the speaker went
	// quiet without a last packet. Conceal without moving the turn, so
	// frames that are merely late still play.
	if now.Sub(j.lastPut) >= j.cfg.Silence {
		return j.finish(true), 0
	}
	j.stats.Underruns++
	return PlayConceal, 0
}

func (j *Jitter) finish(expired bool) Playout {
	if expired {
		j.stats.Expired++
	}
	j.lastBurst = j.burst
	j.active, j.playing = false, false
	return PlayEnd
}
