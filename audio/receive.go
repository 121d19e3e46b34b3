package audio

import (
	"fmt"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// Catching up a backlog. When the playing burst's delay is catchUpStart
// or more above its target (a stall delivered a backlog, the jitter calmed
// down, a burst waited behind another, a late packet), the Receiver plays
// faster until it is back within catchUpStop: quiet frames inside pauses
// are left out whole first — nobody misses 20 ms of a pause — and steady
// voiced frames lose a pitch period each (accelerate.go); for a backlog of
// compressFrom or more, voiced frames are time-compressed, pitch
// unchanged, by 10 % up to 25 % at fullSpeedAt above compressFrom, and up
// to 50 % for a stall's backlog of a second or more: a 1.5 s handover
// stall is caught up in about 3 s of speech, at a pace listeners of
// recorded speech choose for themselves (BENCHMARKS.md).
const (
	catchUpStart = 2 * FrameDuration
	catchUpStop  = 10 * time.Millisecond
	// compressFrom: below it pauses are shortened and voiced frames lose
	// a pitch period now and then; they are time-compressed (libsonic)
	// only for a real backlog (a stall's), from 10 % here
	// to 25 % fullSpeedAt above it.
	compressFrom = 200 * time.Millisecond
	minSpeed     = 1.10
	maxSpeed     = 1.25
	fullSpeedAt  = 200 * time.Millisecond
	// A backlog of stallBacklog or more is played faster still, up to
	// stallSpeed at twice that.
	stallBacklog = 500 * time.Millisecond
	stallSpeed   = 1.5
	// A frame is quiet 30 dB below the burst's speech level (1/1000 in mean
	// square), or below −58 dBFS whatever the level: a pause, not the quiet
	// end of a word (−20 dB cut consonants).
	quietRatio = 1000
	quietFloor = 40 * 40
	// The level follows the loudest frames and sinks by 0.5 % a frame
	// (−1 dB in ~0.9 s), so a speaker who gets quieter is still heard.
	levelDecay = 0.995
	// dropShare: a small excess is given back inside speech at most at
	// this share of the frames played (one pitch period out of a frame,
	// accelerate.go); 3g-poor's p95 over UDP, 8 runs each: 305 ms with
	// the pauses alone, 305 at a third, 295 at a half, 293 unbounded.
	dropShare   = 0.5
	fifoSamples = 8 * FrameSamples
)

// Receiver is the receive path of one group: voice payloads in, 20 ms of
// PCM out per turn, with a jitter buffer, loss concealment and a faster
// playout for backlogs between. Put and Next may be called from different
// goroutines only if the caller serialises them (Output does).
type Receiver struct {
	jit   *Jitter
	dec   *Decoder
	sp    *speedup
	pkt   wire.VoicePacket
	frame [wire.MaxOpusFrame]byte
	pcm   [FrameSamples]int16
	// fifo holds decoded PCM not yet played: a frame played faster
	// yields less than 20 ms, so turns and frames do not line up.
	fifo       [fifoSamples]int16
	fifoN      int
	sonicOn    bool // frames go through the speed-up (it may hold some)
	catching   bool
	prevQuiet  bool // the frame before was quiet (see play)
	level      float64
	lastKind   Playout
	endPending bool // the burst ended; the fifo plays out first
	decStale   bool // the decoder holds the previous burst's state
	skipped    uint64
	dropped    uint64 // samples left out a pitch period at a time (dropPeriod)
	dropCredit float64
	m2e        mouthToEar
	// Bad counts payloads that were not valid voice packets.
	Bad uint64
	// DecodeErrors counts frames the decoder refused (concealed instead).
	DecodeErrors uint64
}

func NewReceiver(cfg JitterConfig) (*Receiver, error) {
	j, err := NewJitter(cfg)
	if err != nil {
		return nil, err
	}
	d, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	sp, err := newSpeedup()
	if err != nil {
		return nil, err
	}
	return &Receiver{jit: j, dec: d, sp: sp}, nil
}

// Put takes one voice payload from speaker who (the sender's account, the
// last level of the voice topic; "" if unknown) received at now.
func (r *Receiver) Put(who string, payload []byte, now time.Time) error {
	if err := wire.DecodeVoicePacket(payload, &r.pkt); err != nil {
		r.Bad++
		return err
	}
	r.jit.Put(who, &r.pkt, now)
	return nil
}

// Next fills pcm (FrameSamples) for the turn at now. It returns
// PlayNothing when there is nothing to play (pcm untouched), PlayFrame,
// PlayConceal or PlayStall when pcm holds sound, PlayEnd once when a burst
// is over.
func (r *Receiver) Next(now time.Time, pcm []int16) (Playout, error) {
	if r.endPending && r.fifoN == 0 {
		r.endPending = false
		return PlayEnd, nil
	}
fill:
	for r.fifoN < FrameSamples && !r.endPending {
		r.drain()
		if r.fifoN >= FrameSamples {
			break
		}
		kind, n := r.jit.Next(now, r.frame[:])
		switch kind {
		case PlayNothing:
			// Waiting (to start, or for the end): what the speed-up holds
			// plays now, padded.
			if err := r.passThrough(nil); err != nil {
				return kind, err
			}
			if r.fifoN == 0 {
				return PlayNothing, nil
			}
			break fill
		case PlayEnd:
			if err := r.endBurst(); err != nil {
				return PlayEnd, err
			}
			if r.fifoN == 0 {
				return PlayEnd, nil
			}
			r.endPending = true
		case PlayStall:
			// What the speed-up holds plays first, at speed 1, then PLC.
			if err := r.passThrough(nil); err != nil {
				return kind, err
			}
			if r.fifoN >= FrameSamples {
				break fill
			}
			if err := r.conceal(nil); err != nil {
				return kind, err
			}
			r.lastKind = kind
			r.push(r.pcm[:])
		case PlayFrame, PlayConceal:
			var err error
			if kind == PlayFrame {
				// Heard after what the fifo holds, what the speed-up
				// holds (and the card's latency, which the Output adds).
				if c := r.jit.playedCapUs; c != 0 {
					ahead := r.fifoN + r.sp.behind()
					r.m2e.add(time.Duration(now.UnixMicro()-c)*time.Microsecond +
						time.Duration(ahead)*time.Second/SampleRate)
				}
				kind, err = r.decode(r.frame[:n])
			} else {
				var next []byte
				if n > 0 {
					next = r.frame[:n]
				}
				err = r.conceal(next)
			}
			if err != nil {
				return kind, err
			}
			r.lastKind = kind
			if err := r.play(now); err != nil {
				return kind, err
			}
		}
	}
	n := copy(pcm[:FrameSamples], r.fifo[:r.fifoN])
	clear(pcm[n:FrameSamples])
	r.fifoN = copy(r.fifo[:], r.fifo[n:r.fifoN])
	return r.lastKind, nil
}

func (r *Receiver) decode(frame []byte) (Playout, error) {
	r.fresh()
	if err := r.dec.Decode(frame, r.pcm[:]); err != nil {
		r.DecodeErrors++
		if cerr := r.dec.Conceal(nil, r.pcm[:]); cerr != nil {
			return PlayFrame, fmt.Errorf("receive: %w", cerr)
		}
		return PlayConceal, nil
	}
	return PlayFrame, nil
}

func (r *Receiver) conceal(next []byte) error {
	r.fresh()
	if err := r.dec.Conceal(next, r.pcm[:]); err != nil {
		r.DecodeErrors++
		if err := r.dec.Conceal(nil, r.pcm[:]); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
	}
	return nil
}

// fresh starts the decoder clean for a new burst (maybe a new speaker),
// so the last one's state does not colour its first frames.
func (r *Receiver) fresh() {
	if r.decStale {
		if err := r.dec.Reset(); err == nil {
			r.decStale = false
		}
	}
}

// play queues the frame in r.pcm: as it is, left out (quiet, while
// catching up), or sped up.
func (r *Receiver) play(now time.Time) error {
	ms := meanSquare(r.pcm[:])
	r.level = max(r.level*levelDecay, ms)
	quiet := ms < quietFloor || ms*quietRatio < r.level
	wasQuiet := r.prevQuiet
	r.prevQuiet = quiet
	// How far behind its target this frame will be heard: the buffer has
	// already moved past it, and the fifo plays before it.
	ahead := r.jit.Excess(now) + FrameDuration + time.Duration(r.fifoN)*time.Second/SampleRate
	switch {
	case !r.catching && ahead >= catchUpStart:
		r.catching = true
	case r.catching && ahead <= catchUpStop:
		r.catching = false
	}
	if !r.catching {
		if r.sonicOn {
			return r.passThrough(r.pcm[:])
		}
		r.push(r.pcm[:])
		return nil
	}
	// Only frames inside a pause go: the first quiet frame after speech is
	// kept, so the gaps between syllables — quiet too, and part of the
	// words — are never cut (cutting them garbled speech).
	if quiet && wasQuiet && ahead >= FrameDuration+catchUpStop {
		r.skipped++
		return nil
	}
	if ahead < compressFrom {
		// A small excess (a target that came down, a packet's worth of
		// jitter) is given back in the pauses, and inside steady voiced
		// speech a pitch period at a time (accelerate.go): never more
		// than the excess, and at most dropShare of what comes in over a
		// few frames (a period is 2.5–12.5 ms; one out of every frame of
		// a low voice would be more than half of it).
		if r.sonicOn {
			return r.passThrough(r.pcm[:])
		}
		n := FrameSamples
		r.dropCredit = min(r.dropCredit+FrameSamples*dropShare, maxPeriod)
		room := min(r.dropCredit, float64((ahead-catchUpStop)*SampleRate/time.Second))
		if !quiet && room >= minPeriod { // else no period could go: spare the search
			if p := pitchPeriod(r.pcm[:]); p > 0 && float64(p) <= room {
				n = dropPeriod(r.pcm[:], p)
				r.dropCredit -= float64(p)
			}
		}
		r.dropped += uint64(FrameSamples - n)
		r.push(r.pcm[:n])
		return nil
	}
	speed := minSpeed + (maxSpeed-minSpeed)*min(1, float64(ahead-compressFrom)/float64(fullSpeedAt))
	if ahead > stallBacklog {
		speed = maxSpeed + (stallSpeed-maxSpeed)*min(1, float64(ahead-stallBacklog)/float64(stallBacklog))
	}
	r.sonicOn = true
	r.sp.setSpeed(float32(speed))
	if err := r.sp.write(r.pcm[:]); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	r.drain()
	return nil
}

// passThrough writes pcm (nil: nothing new) at speed 1, which pushes out
// everything the speed-up holds, and leaves it off.
func (r *Receiver) passThrough(pcm []int16) error {
	if !r.sonicOn {
		r.push(pcm)
		return nil
	}
	r.sp.setSpeed(1)
	if err := r.sp.write(pcm); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	r.sonicOn = false
	r.drain()
	return nil
}

// drain moves what the speed-up has ready into the fifo.
func (r *Receiver) drain() {
	if r.sp.available() > 0 {
		r.fifoN += r.sp.read(r.fifo[r.fifoN:])
	}
}

func (r *Receiver) push(pcm []int16) { r.fifoN += copy(r.fifo[r.fifoN:], pcm) }

// endBurst pushes out what the speed-up holds and readies the next burst.
func (r *Receiver) endBurst() error {
	if r.sonicOn {
		r.sp.setSpeed(1)
		if err := r.sp.flush(); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		r.sonicOn = false
		r.drain()
	}
	r.catching, r.level, r.decStale, r.dropCredit = false, 0, true, 0
	return nil
}

func meanSquare(pcm []int16) float64 {
	var s int64
	for _, v := range pcm {
		s += int64(v) * int64(v)
	}
	return float64(s) / float64(len(pcm))
}

// Active reports whether a burst is being received or played, and its id.
func (r *Receiver) Active() (uint32, bool) {
	id, ok := r.jit.Active()
	return id, ok || r.fifoN > 0 || r.endPending
}

// Reset drops every burst.
func (r *Receiver) Reset() {
	r.jit.Reset()
	if r.sonicOn {
		r.sp.setSpeed(1)
		r.sp.flush()
		for r.sp.available() > 0 {
			r.sp.read(r.fifo[:])
		}
		r.sonicOn = false
	}
	r.fifoN, r.endPending, r.catching, r.level, r.decStale = 0, false, false, 0, true
}

// SetLinkHint: see Jitter.SetLinkHint.
func (r *Receiver) SetLinkHint(d time.Duration, ok bool) { r.jit.SetLinkHint(d, ok) }

// FloorIdle: see Jitter.FloorIdle.
func (r *Receiver) FloorIdle(now time.Time) { r.jit.FloorIdle(now) }

// FloorIdleAfter: see Jitter.FloorIdleAfter.
func (r *Receiver) FloorIdleAfter(burst, end uint32, now time.Time) {
	r.jit.FloorIdleAfter(burst, end, now)
}

// FloorTaken: see Jitter.FloorTaken.
func (r *Receiver) FloorTaken(who string, now time.Time) { r.jit.FloorTaken(who, now) }

// Stats returns the receive path's counters.
func (r *Receiver) Stats() JitterStats {
	s := r.jit.Stats()
	s.SilenceSkipped = r.skipped
	s.MouthToEarP50Ms, s.MouthToEarP95Ms, s.MouthToEarFrames = r.m2e.quantile(0.5), r.m2e.quantile(0.95), r.m2e.n
	saved := int64(r.sp.in) - int64(r.sp.out) - int64(r.sp.available()) - int64(r.sp.held())
	s.CompressedMs = uint64(max(saved, 0)+int64(r.dropped)) * 1000 / SampleRate
	return s
}
