package audio

import (
	"errors"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// JitterConfig sizes the receive buffer.
type JitterConfig struct {
	// Target is the playout delay, in 20 ms frames, for a speaker not
	// heard before: how long after its first packet a burst starts to
	// play. After a few packets the buffer uses what it measured on that
	// speaker's link instead (jitter_target.go), and remembers it for the
	// speaker's next burst.
	Target int
	// Max is the hard bound, in frames, of what may wait: only beyond it
	// are the oldest frames dropped (and counted as Trimmed). A smaller
	// backlog is played faster until the delay is back at the target
	// (Receiver): push-to-talk is half-duplex, late is better than lost.
	Max int
	// BurstTimeout ends a burst that got no packet for this long although
	// neither its last packet nor the floor's end came (both lost), so a
	// lost end cannot hold the speaker forever. 0 means
	// DefaultBurstTimeout.
	BurstTimeout time.Duration
}

// DefaultBurstTimeout is longer than a handover stall (1–2 s) plus the TCP
// retransmissions behind it: silence alone never ends a burst whose floor
// is held, this only catches a burst whose end was lost.
const DefaultBurstTimeout = 5 * time.Second

const (
	// endGrace: after the floor went idle, a drained burst still waits this
	// long for packets of its own that may be on their way (the floor
	// message and the voice travel different paths).
	endGrace = 200 * time.Millisecond
	// catchUp is how far behind its target the playout must be before it
	// skips a missing frame instead of concealing it; below it the turn
	// grid (20 ms) and one concealed frame are normal.
	catchUp = 2 * FrameDuration
	// lostTail, lostWait: a relayed tail of at most lostTail packets that
	// has not come when the floor went idle is waited for lostWait beyond
	// the speaker's jitter target, then taken for lost (UDP drops a packet
	// now and then, the last one too: waiting BurstTimeout for it kept the
	// listener's burst open 5 s). A longer tail is a stall's backlog,
	// waited for up to BurstTimeout. A stall that holds back only the last
	// packet or two for longer than lostWait costs those.
	lostTail = 3
	lostWait = time.Second
)

// JitterStats count what the receive path did. Times are milliseconds.
type JitterStats struct {
	Bursts         uint64 // talk bursts started
	Frames         uint64 // frames played as received
	Concealed      uint64 // frames missing at their turn, filled by PLC or FEC
	FEC            uint64 // … of which recovered from the next frame's FEC
	Skipped        uint64 // frames never received, skipped (not concealed) while the playout was behind
	Late           uint64 // frames that arrived after their turn was concealed or skipped, or after their burst ended: dropped
	Duplicates     uint64 // frames received again (before or after the first copy played): dropped
	Trimmed        uint64 // frames dropped beyond the hard bound (JitterConfig.Max)
	Underruns      uint64 // turns with nothing newer received (a stall): concealed, the turn held
	Other          uint64 // frames of a third burst while two were queued: dropped
	Expired        uint64 // bursts ended by BurstTimeout instead of their last packet or the floor
	SilenceSkipped uint64 // quiet frames left out to catch up a backlog (Receiver)
	CompressedMs   uint64 // audio time saved by playing voiced frames faster (Receiver)
	DelayMs        int64  // the playing burst's delay beyond its fastest packet, at the last turn
	TargetMs       int64  // the delay its speaker's measured jitter asks for
	// Mouth-to-ear of the frames played (capture on the sender → heard
	// here), median and 95th percentile in ms, over MouthToEarFrames
	// frames since start; filled by the Receiver and the Output.
	MouthToEarP50Ms  float64
	MouthToEarP95Ms  float64
	MouthToEarFrames uint64
}

// Playout says what Next produced.
type Playout uint8

const (
	PlayNothing Playout = iota // no burst, or still buffering: play nothing (or silence)
	PlayFrame                  // a received frame
	PlayConceal                // a missing frame: conceal (FEC from Next's frame when it returned one)
	PlayEnd                    // the burst is over
	PlayStall                  // nothing newer has arrived: conceal, the turn does not move
)

type jslot struct {
	seq    uint32
	valid  bool
	played bool // seq played in its turn (a later copy is a duplicate, not late)
	n      int
	capUs  int64 // when the frame's first sample was captured (sender's clock, Unix µs)
	data   [wire.MaxOpusFrame]byte
}

// burst is one talk burst in the buffer. Times are measured from origin,
// its first packet's arrival; sequence numbers from base, that packet's.
type burst struct {
	ring     []jslot
	id       uint32
	who      *speaker
	active   bool
	playing  bool
	next     uint32 // sequence number of the next frame to play
	highest  uint32 // one past the highest sequence received
	ended    bool   // its last packet came
	endSeq   uint32
	ending   bool // the floor moved on: no packets are expected beyond what is here
	endingAt time.Time
	// relayed: the platform said (floor idle) it had sent the frames up
	// to here; they are waited for, up to BurstTimeout, even on a link
	// that delivers the floor message before the voice it stalled.
	relayed    uint32
	expectAll  bool
	pktFrames  int  // frames in the burst's first packet: the sender's packet size
	superseded bool // a newer burst waits behind it: end as soon as drained
	origin     time.Time
	base       uint32
	lastPut    time.Time
	nMin       time.Duration // smallest arrival − frame time so far
	prevArr    time.Duration
	measured   int
	inStall    bool
	target     time.Duration
	initial    time.Duration // the target until the speaker is measured (speakers.start)
}

// before compares sequence numbers in serial-number arithmetic, so a
// burst may cross 2³² and a jump either way is a bounded distance.
func before(a, b uint32) bool { return int32(a-b) < 0 }

func (b *burst) frameTime(seq uint32) time.Duration {
	return time.Duration(int32(seq-b.base)) * FrameDuration
}

// delay is how long the frame due now waited beyond the burst's fastest
// packet: 0 when frames play the moment the fastest packets arrive.
func (b *burst) delay(now time.Time) time.Duration {
	return now.Sub(b.origin) - b.frameTime(b.next) - b.nMin
}

func (b *burst) has(seq uint32) bool {
	s := &b.ring[seq%uint32(len(b.ring))]
	return s.valid && s.seq == seq
}

func (b *burst) end(now time.Time, superseded bool) {
	if !b.ending {
		b.ending, b.endingAt = true, now
	}
	b.superseded = b.superseded || superseded
}

// Jitter is the receive buffer: frames of a burst wait in a ring indexed
// by sequence number and come out one per 20 ms turn in order; a frame
// missing at its turn is concealed, and when nothing newer has arrived the
// turn is held (concealed) so that frames that are merely late still play.
// How long a burst waits before it starts follows the speaker's measured
// jitter. A burst ends on its last packet, when the floor says so
// (FloorIdle, FloorTaken), when another burst arrives behind it (the
// platform relays only the floor holder), or — a safety bound only — after
// BurstTimeout without a packet; never on a pause alone. A burst that
// arrives while one plays waits behind it (one speaker at a time, none
// lost); a third is dropped and counted.
//
// It allocates only in NewJitter and the first time a speaker is heard.
// Every call is O(ring) at worst, whatever the sequence numbers. It is not
// safe for concurrent use.
type Jitter struct {
	cfg       JitterConfig
	bursts    [2]burst
	cur, pend *burst    // the burst playing (or buffering), the one waiting behind it
	ended     [4]uint32 // the bursts that ended last: their stragglers are late
	nEnded    int
	target    time.Duration // of the last burst played, once it ended
	spk       speakers
	stats     JitterStats
	// playedCapUs is the capture time of the frame Next last returned
	// with PlayFrame (for the mouth-to-ear measure).
	playedCapUs int64
	// hint, when hinted, replaces cfg.Target as the start of a speaker
	// not heard before (SetLinkHint).
	hint   time.Duration
	hinted bool
}

// NewJitter checks cfg and allocates the rings.
func NewJitter(cfg JitterConfig) (*Jitter, error) {
	if cfg.Target < 0 || cfg.Max < 1 || cfg.Target > cfg.Max || cfg.Max > 500 {
		return nil, errors.New("jitter buffer: need 0 ≤ target ≤ max, 1 ≤ max ≤ 500 frames")
	}
	if cfg.BurstTimeout <= 0 {
		cfg.BurstTimeout = DefaultBurstTimeout
	}
	j := &Jitter{cfg: cfg}
	for i := range j.bursts {
		// Room for Max frames plus one packet in flight beyond it.
		j.bursts[i].ring = make([]jslot, cfg.Max+wire.MaxVoiceFrames+1)
	}
	j.cur, j.pend = &j.bursts[0], &j.bursts[1]
	return j, nil
}

// Stats returns the counters.
func (j *Jitter) Stats() JitterStats { return j.stats }

// Active reports whether a burst is being received or played, and its id.
func (j *Jitter) Active() (uint32, bool) { return j.cur.id, j.cur.active }

// Depth is how many frames are buffered ahead of the next turn.
func (j *Jitter) Depth() int {
	if !j.cur.active {
		return 0
	}
	return int(int32(j.cur.highest - j.cur.next))
}

// Excess is how far the playing burst's delay is above its target at now
// (negative below it; 0 when nothing plays): what the Receiver catches up.
func (j *Jitter) Excess(now time.Time) time.Duration {
	if b := j.cur; b.active && b.playing {
		return b.delay(now) - b.target
	}
	return 0
}

// Target is the playout delay the current burst aims at (when none
// plays, the last one's).
func (j *Jitter) Target() time.Duration {
	if j.cur.active {
		return j.cur.target
	}
	return j.target
}

// over remembers that burst id ended, so its stragglers are not taken for
// a new burst.
func (j *Jitter) over(id uint32) {
	j.ended[j.nEnded%len(j.ended)] = id
	j.nEnded++
}

func (j *Jitter) isOver(id uint32) bool {
	for i := range min(j.nEnded, len(j.ended)) {
		if j.ended[i] == id {
			return true
		}
	}
	return false
}

// Reset drops every burst (the user switched to another group).
func (j *Jitter) Reset() {
	for _, b := range []*burst{j.cur, j.pend} {
		if b.active {
			j.over(b.id)
		}
		b.active, b.playing = false, false
	}
}

// FloorIdle says the floor went idle at now: no burst gets new packets
// beyond those on their way. What is buffered still plays, then the burst
// ends.
func (j *Jitter) FloorIdle(now time.Time) { j.FloorIdleAfter(0, 0, now) }

// FloorIdleAfter is FloorIdle when the platform says how much of burst id it
// relayed: the frames before seq end (one past the last relayed) are on
// their way and are waited for — up to BurstTimeout — before the burst
// ends.
func (j *Jitter) FloorIdleAfter(id, end uint32, now time.Time) {
	for _, b := range []*burst{j.cur, j.pend} {
		if b.active {
			b.end(now, false)
			if id != 0 && b.id == id {
				b.relayed, b.expectAll = end, true
			}
		}
	}
}

// FloorTaken says the floor went to speaker who at now: bursts of anyone
// else end once what is buffered of them has played.
func (j *Jitter) FloorTaken(who string, now time.Time) {
	for _, b := range []*burst{j.cur, j.pend} {
		if b.active && b.who.name != who {
			b.end(now, false)
		}
	}
}

// Put takes a decoded voice packet from speaker who (the sender's account:
// what the buffer learns is kept per speaker) received at now. It reports
// whether the packet opened a new burst.
func (j *Jitter) Put(who string, p *wire.VoicePacket, now time.Time) (started bool) {
	var b *burst
	switch {
	case j.cur.active && j.cur.id == p.Burst:
		b = j.cur
	case j.pend.active && j.pend.id == p.Burst:
		b = j.pend
	case j.isOver(p.Burst):
		// A straggler of a burst that ended.
		j.stats.Late += uint64(p.NFrames)
		return false
	case !j.cur.active:
		b = j.cur
	case !j.pend.active:
		// The floor moved on (the platform relays only its holder's
		// voice): the playing burst ends when drained, this one waits.
		b = j.pend
		j.cur.end(now, true)
	default:
		j.stats.Other += uint64(p.NFrames)
		return false
	}
	if !b.active {
		j.start(b, who, p, now)
		started = true
	}
	j.measure(b, p, now)
	b.lastPut = now
	ringLen := uint32(len(b.ring))
	for i := 0; i < p.NFrames; i++ {
		seq := p.Seq + uint32(i)
		if b.ended && !before(seq, b.endSeq) {
			j.stats.Late++ // beyond the burst's last packet: not of it
			continue
		}
		if before(seq, b.next) {
			if i == 0 && p.NFrames == b.pktFrames+1 && !before(seq+1, b.next) {
				// The repeat of the last frame of the packet before (the
				// UDP path's redundancy), which played in its turn.
				j.stats.Duplicates++
				continue
			}
			if b.playing || b.highest-seq >= ringLen {
				if s := &b.ring[seq%ringLen]; s.played && s.seq == seq {
					// It played in its turn: a second copy (the broker's
					// of a burst's first packets, beside UDP's).
					j.stats.Duplicates++
				} else {
					j.stats.Late++
				}
				continue
			}
			// Not playing yet: an earlier packet overtaken by a later one
			// still has its turn.
			b.next = seq
		}
		if seq-b.next >= ringLen {
			// No room: the oldest frames go (beyond the hard bound).
			j.advance(b, seq-ringLen+1)
		}
		s := &b.ring[seq%ringLen]
		if s.valid && s.seq == seq {
			j.stats.Duplicates++
			continue
		}
		s.seq, s.valid, s.played, s.n = seq, true, false, copy(s.data[:], p.Frames[i])
		s.capUs = p.TimeMicro + int64(i)*FrameDuration.Microseconds()
		if !before(seq, b.highest) {
			b.highest = seq + 1
		}
	}
	if p.Last {
		end := p.Seq + uint32(p.NFrames)
		if before(end, b.next) {
			end = b.next // its frames were late: the end is now
		}
		if end-b.next > ringLen {
			j.advance(b, end-ringLen)
		}
		b.ended, b.endSeq = true, end
		if before(b.highest, end) {
			b.highest = end
		}
	}
	return started
}

func (j *Jitter) start(b *burst, who string, p *wire.VoicePacket, now time.Time) {
	for i := range b.ring {
		b.ring[i].valid, b.ring[i].played = false, false
	}
	other := j.cur
	if b == j.cur {
		other = j.pend
	}
	busy := (*speaker)(nil)
	if other.active {
		busy = other.who
	}
	*b = burst{ring: b.ring, id: p.Burst, active: true, who: j.spk.get(who, busy),
		next: p.Seq, highest: p.Seq, base: p.Seq, origin: now}
	b.initial = j.spk.start(b.who, j.initial())
	b.target = j.spk.target(b.who, b.initial, j.most())
	j.stats.Bursts++
}

// SetLinkHint says how much the link's delay varies, as the voice path
// measured it before any voice came (RFC 6298's RTTVAR of the UDP path's
// echoes or of the broker's SUBACKs); ok false: not measured. A burst of
// a speaker not heard before then starts at half of it (the nearest
// whole frame, at least one) when that is below the configured Target: a
// calm link starts as low as it can (clean UDP: mouth-to-ear p95 of a
// first burst 125 → 105 ms). A hint never raises the start above Target: the delay
// is counted from the burst's fastest packet, and the first packet is
// itself late by about half the spread, so a start at the learnt target
// plays that much above it until the pauses give it back (3g-poor over
// UDP, 5 runs each: p95 310–355 ms starting at 60 ms, 305–345 at the
// default 40; BENCHMARKS.md). What the buffer measures on a speaker's own
// packets replaces the start after a few packets.
func (j *Jitter) SetLinkHint(d time.Duration, ok bool) {
	j.hint, j.hinted = max(d, 0), ok
}

func (j *Jitter) initial() time.Duration {
	if !j.hinted {
		return time.Duration(j.cfg.Target) * FrameDuration
	}
	frames := max(1, int((j.hint/2+FrameDuration/2)/FrameDuration))
	return time.Duration(min(frames, j.cfg.Target)) * FrameDuration
}

func (j *Jitter) most() time.Duration { return time.Duration(j.cfg.Max) * FrameDuration }

// measure scores the packet's arrival for the speaker's target. A packet
// leaves when its last frame is captured, so that frame's time is its
// clock (the burst's first packet sets how many frames a packet holds):
// a sender that repeats the previous packet's last frame at the head of
// the next (the UDP path's redundancy) is timed like one that does not.
// The last packet is sent early, at the release, and is not measured.
func (j *Jitter) measure(b *burst, p *wire.VoicePacket, now time.Time) {
	if p.NFrames == 0 || p.Last {
		return // an end is sent on release, not on the frame clock
	}
	if b.pktFrames == 0 {
		b.pktFrames = p.NFrames
	}
	arr := now.Sub(b.origin)
	last := p.Seq + uint32(p.NFrames-1)
	n := arr - b.frameTime(last) + time.Duration(b.pktFrames-1)*FrameDuration
	first := b.measured == 0
	b.measured++
	if first || n < b.nMin {
		b.nMin = n
	}
	if first {
		b.prevArr = arr
		return // it scores 0 by definition: nothing learnt
	}
	score := n - b.nMin
	nominal := time.Duration(max(p.NFrames, 1)) * FrameDuration
	// A stall's backlog arrives together: the packets right behind a
	// stalled one belong to the stall.
	b.inStall = b.inStall && arr-b.prevArr < nominal/2
	if !b.inStall && score > stallScore(b.target) {
		b.inStall = true
	}
	b.prevArr = arr
	if !b.inStall {
		b.who.add(score)
		b.target = j.spk.target(b.who, b.initial, j.most())
	}
}

// advance drops every frame of b before seq, counting those received as
// trimmed. A jump of a ring or more clears the ring instead of walking it,
// so a hostile sequence number costs O(ring), not O(jump).
func (j *Jitter) advance(b *burst, seq uint32) {
	if !before(b.next, seq) {
		return
	}
	if seq-b.next >= uint32(len(b.ring)) {
		for i := range b.ring {
			if s := &b.ring[i]; s.valid {
				s.valid = false
				j.stats.Trimmed++
			}
		}
		b.next = seq
	}
	for ; before(b.next, seq); b.next++ {
		s := &b.ring[b.next%uint32(len(b.ring))]
		if s.valid && s.seq == b.next {
			s.valid = false
			j.stats.Trimmed++
		}
	}
	if before(b.highest, b.next) {
		b.highest = b.next
	}
}

// Next is one 20 ms turn at now. For PlayFrame it copies the frame into
// dst and returns its length; for PlayConceal it copies the following
// frame, when that one is already here, so the caller can recover the
// missing one from its FEC (length 0: plain PLC). A caller playing a
// backlog faster may call Next more than once per turn. dst must hold
// wire.MaxOpusFrame bytes.
func (j *Jitter) Next(now time.Time, dst []byte) (Playout, int) {
	b := j.cur
	if !b.active {
		return PlayNothing, 0
	}
	if !b.playing {
		switch {
		case b.ending || b.ended: // nothing more to wait for: play what is here
		case b.highest != b.next && b.delay(now)+FrameDuration/2 >= b.target:
			// The target is reached, or would be passed by more than
			// half a turn at the next one.
		case now.Sub(b.lastPut) >= j.cfg.BurstTimeout:
			return j.finish(true), 0
		default:
			return PlayNothing, 0
		}
		b.playing = true
	}
	if b.ended && !before(b.next, b.endSeq) {
		return j.finish(false), 0
	}
	if depth := b.highest - b.next; int32(depth) > int32(j.cfg.Max) {
		j.advance(b, b.highest-uint32(j.cfg.Max))
	}
	j.stats.DelayMs, j.stats.TargetMs = b.delay(now).Milliseconds(), b.target.Milliseconds()
	// Behind its target with frames missing that later ones overtook:
	// they are lost (an in-order transport never leaves a gap), so skip
	// them rather than spend a turn concealing each.
	// One whose successor is here is not skipped: the successor's in-band
	// FEC rebuilds it, worth the turn.
	for !b.has(b.next) && !b.has(b.next+1) && before(b.next+1, b.highest) && b.delay(now)-b.target >= catchUp {
		b.next++
		j.stats.Skipped++
	}
	ringLen := uint32(len(b.ring))
	if s := &b.ring[b.next%ringLen]; s.valid && s.seq == b.next {
		s.valid, s.played = false, true
		b.next++
		j.stats.Frames++
		j.playedCapUs = s.capUs
		return PlayFrame, copy(dst, s.data[:s.n])
	}
	if before(b.next+1, b.highest) && b.delay(now) < b.target {
		// Overtaken by later frames, but the target leaves time to wait
		// for it: hold the turn, as for a stall.
		j.stats.Underruns++
		return PlayStall, 0
	}
	if before(b.next+1, b.highest) || b.ended && before(b.next, b.highest) {
		// Lost (or later than the buffer allows): conceal and move on.
		b.next++
		j.stats.Concealed++
		if s := &b.ring[b.next%ringLen]; s.valid && s.seq == b.next {
			j.stats.FEC++
			return PlayConceal, copy(dst, s.data[:s.n])
		}
		return PlayConceal, 0
	}
	// Nothing newer has arrived.
	if b.ending {
		last := b.lastPut
		if b.endingAt.After(last) {
			last = b.endingAt
		}
		if b.expectAll && before(b.next, b.relayed) && !b.superseded && now.Sub(last) < j.cfg.BurstTimeout &&
			(before(b.highest, b.relayed) && b.relayed-b.highest > uint32(lostTail*max(b.pktFrames, 1)) ||
				now.Sub(last) < b.target+lostWait) {
			// The platform sent more than has come: a stall holds it.
			// A tail of a packet or two only for lostWait: lost.
			j.stats.Underruns++
			return PlayStall, 0
		}
		if b.superseded || now.Sub(last) >= endGrace {
			return j.finish(false), 0
		}
		return PlayNothing, 0
	}
	if now.Sub(b.lastPut) >= j.cfg.BurstTimeout {
		return j.finish(true), 0
	}
	// The network stalled, or the speaker paused without a last packet
	// while holding the floor: conceal without moving the turn, so frames
	// that are merely late still play.
	j.stats.Underruns++
	return PlayStall, 0
}

func (j *Jitter) finish(expired bool) Playout {
	if expired {
		j.stats.Expired++
	}
	b := j.cur
	j.over(b.id)
	j.target = b.target
	b.active, b.playing = false, false
	j.cur, j.pend = j.pend, j.cur // the burst waiting behind, if any, is next
	return PlayEnd
}
