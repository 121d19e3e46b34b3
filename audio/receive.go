package audio

import (
	"fmt"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// Receiver is the receive path of one group: voice payloads in, 20 ms of
// PCM out per turn, with a jitter buffer and loss concealment between.
// Put and Next may be called from different goroutines only if the caller
// serialises them (Output does).
type Receiver struct {
	jit   *Jitter
	dec   *Decoder
	pkt   wire.VoicePacket
	frame [wire.MaxOpusFrame]byte
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
	return &Receiver{jit: j, dec: d}, nil
}

// Put takes one voice payload received at now.
func (r *Receiver) Put(payload []byte, now time.Time) error {
	if err := wire.DecodeVoicePacket(payload, &r.pkt); err != nil {
		r.Bad++
		return err
	}
	if r.jit.Put(&r.pkt, now) {
		// A new burst (maybe a new speaker): start the decoder clean so the
		// last one's state does not colour its first frames.
		if err := r.dec.Reset(); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
	}
	return nil
}

// Next fills pcm (FrameSamples) for the turn at now. It returns
// PlayNothing when there is nothing to play (pcm untouched), PlayFrame or
// PlayConceal when pcm holds sound, PlayEnd once when a burst is over.
func (r *Receiver) Next(now time.Time, pcm []int16) (Playout, error) {
	kind, n := r.jit.Next(now, r.frame[:])
	switch kind {
	case PlayFrame:
		if err := r.dec.Decode(r.frame[:n], pcm); err != nil {
			r.DecodeErrors++
			if cerr := r.dec.Conceal(nil, pcm); cerr != nil {
				return kind, fmt.Errorf("receive: %w", cerr)
			}
			return PlayConceal, nil
		}
	case PlayConceal:
		var next []byte
		if n > 0 {
			next = r.frame[:n]
		}
		if err := r.dec.Conceal(next, pcm); err != nil {
			r.DecodeErrors++
			if err := r.dec.Conceal(nil, pcm); err != nil {
				return kind, fmt.Errorf("receive: %w", err)
			}
		}
	}
	return kind, nil
}

// Active reports whether a burst is being received, and its id.
func (r *Receiver) Active() (uint32, bool) { return r.jit.Active() }

// Reset drops the current burst.
func (r *Receiver) Reset() { r.jit.Reset() }

// Stats returns the jitter buffer's counters.
func (r *Receiver) Stats() JitterStats { return r.jit.Stats() }
