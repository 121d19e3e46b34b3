package audio

import (
	"sync"
	"time"
)

// A real sound card paces its user: a read returns when 20 ms have been
// captured, a write blocks while the card's buffer is full. A card made of
// files (ALSA's file plugin, the bench and test card of docs/config.md's
// audio.pace) runs as fast as the CPU instead: a second of "speech" passes
// in a millisecond, and a talk burst would flood the uplink. The wrappers
// below put the wall clock back in; a real card never needs them.

// PaceCapture returns c with reads paced to real time: the n-th frame
// after Start is returned n × 20 ms after Start, as a microphone would.
func PaceCapture(c Capturer) Capturer { return &pacedCapture{Capturer: c} }

type pacedCapture struct {
	Capturer
	mu sync.Mutex
	t0 time.Time
	n  int64
}

func (p *pacedCapture) Start() error {
	p.mu.Lock()
	p.t0, p.n = time.Now(), 0
	p.mu.Unlock()
	return p.Capturer.Start()
}

func (p *pacedCapture) ReadFrame(pcm []int16) error {
	if err := p.Capturer.ReadFrame(pcm); err != nil {
		return err
	}
	p.mu.Lock()
	p.n++
	due := p.t0.Add(time.Duration(p.n) * FrameDuration)
	if late := time.Since(due); late > FrameDuration {
		// We were late (a busy machine): a real card would have kept the
		// samples; do not make up for it by reading in a burst.
		p.t0 = p.t0.Add(late)
		due = due.Add(late)
	}
	p.mu.Unlock()
	time.Sleep(time.Until(due))
	return nil
}

// PacePlayer returns p with writes paced to real time, like a card holding
// buffered frames: a write blocks until the card has room, i.e. until no
// more than buffered frames wait to be heard. A writer that falls behind
// starts again from now (what a card's underflow does).
func PacePlayer(p Player, buffered int) Player {
	return &pacedPlayer{Player: p, buffered: int64(max(buffered, 1))}
}

type pacedPlayer struct {
	Player
	buffered int64
	mu       sync.Mutex
	t0       time.Time // when frame 0 started to play
	n        int64     // frames written since t0
}

// Latency is what the paced card holds: buffered frames.
func (p *pacedPlayer) Latency() time.Duration { return time.Duration(p.buffered) * FrameDuration }

func (p *pacedPlayer) Start() error {
	p.mu.Lock()
	p.t0, p.n = time.Time{}, 0
	p.mu.Unlock()
	return p.Player.Start()
}

func (p *pacedPlayer) WriteFrame(pcm []int16) error {
	if err := p.Player.WriteFrame(pcm); err != nil {
		return err
	}
	p.mu.Lock()
	now := time.Now()
	if p.t0.IsZero() || now.After(p.t0.Add(time.Duration(p.n)*FrameDuration)) {
		// The first frame, or the card ran dry: it plays from now.
		p.t0, p.n = now, 0
	}
	p.n++
	due := p.t0.Add(time.Duration(p.n-p.buffered) * FrameDuration)
	p.mu.Unlock()
	time.Sleep(time.Until(due))
	return nil
}
