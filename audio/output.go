package audio

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Output owns the speaker. Each 20 ms it plays, in this order of
// precedence: received voice (a burst that is arriving, even while it is
// still buffering, silences everything else), else the current voice
// prompt; tones are mixed on top of either. A prompt interrupted by voice
// pauses and carries on after the burst, and prompts play one after the
// other, never together. When there is nothing to play the stream is
// stopped, so an idle handset does not keep the audio device awake.
//
// What the agent calls, besides PutVoiceFrom for each voice packet:
// FloorTaken(speaker) on a floor taken message, FloorIdle on idle (so a
// burst whose last packet was lost ends after its buffered voice, not
// after JitterConfig.BurstTimeout), PlayAfterVoice for the end tone, and
// ResetVoice on a group switch. VoiceStats are the receive counters for
// status.
type Output struct {
	player Player
	rx     *Receiver

	mu         sync.Mutex
	tones      [][]int16
	prompts    [][]int16
	afterVoice [][]int16
	wake       chan struct{}
	voice      bool // a burst is playing (for OnVoice)
	dropped    uint64
	maxQueue   int
	gain       int32 // Q15: 32768 is unity

	running atomic.Bool // the player's stream is started (Run)

	// OnVoice, if set, is called (from Run) when received voice starts
	// and stops: the receiving LED.
	OnVoice func(playing bool)
}

// NewOutput plays rx's bursts, tones and prompts on player.
func NewOutput(player Player, rx *Receiver) *Output {
	return &Output{player: player, rx: rx, wake: make(chan struct{}, 1), maxQueue: 16, gain: unityGain}
}

const unityGain = 1 << 15

// SetGain sets the loudness of everything played — voice, prompts and
// tones — as a factor of 0 to 1 (the handset's volume keys). It applies
// from the next 20 ms frame.
func (o *Output) SetGain(g float64) {
	g = max(0, min(1, g))
	o.mu.Lock()
	o.gain = int32(g * unityGain)
	o.mu.Unlock()
}

// PutVoiceFrom hands a voice payload from speaker (the sender's account:
// the last level of the voice topic, or the media path's speaker id)
// received at now to the receiver. What the jitter buffer learns about a
// link is kept per speaker, so each burst starts at the delay the last
// one from the same speaker needed.
func (o *Output) PutVoiceFrom(speaker string, payload []byte, now time.Time) error {
	o.mu.Lock()
	err := o.rx.Put(speaker, payload, now)
	o.mu.Unlock()
	o.kick()
	return err
}

// PutVoice is PutVoiceFrom an unknown speaker: every sender shares one
// measurement.
func (o *Output) PutVoice(payload []byte, now time.Time) error {
	return o.PutVoiceFrom("", payload, now)
}

// FloorIdle tells the receiver that the floor went idle: the burst being
// received gets no more packets than those on their way. What is buffered
// still plays; then the burst ends (and PlayAfterVoice's tones play).
// Call it on the floor's idle message. Without it a burst whose last
// packet was lost ends only after JitterConfig.BurstTimeout.
func (o *Output) FloorIdle() {
	o.mu.Lock()
	o.rx.FloorIdle(time.Now())
	o.mu.Unlock()
	o.kick()
}

// FloorTaken tells the receiver that speaker got the floor: a burst of
// anyone else ends once what is buffered of it has played. Call it on
// the floor's taken message (and when this handset is granted the floor,
// with its own account).
// FloorIdleAfter is FloorIdle when the platform says it relayed burst up
// to (not including) frame end: those frames are waited for.
func (o *Output) FloorIdleAfter(burst, end uint32) {
	o.mu.Lock()
	o.rx.FloorIdleAfter(burst, end, time.Now())
	o.mu.Unlock()
	o.kick()
}

// FloorChanged is FloorTaken(speaker), or FloorIdle for "": push-to-talk
// tells its playout about the floor of the group being played this way.
func (o *Output) FloorChanged(speaker string) {
	if speaker == "" {
		o.FloorIdle()
		return
	}
	o.FloorTaken(speaker)
}

func (o *Output) FloorTaken(speaker string) {
	o.mu.Lock()
	o.rx.FloorTaken(speaker, time.Now())
	o.mu.Unlock()
	o.kick()
}

// SetLinkHint tells the receiver how much the voice path's delay varies
// (ok false: unknown), so a speaker not heard before starts at a delay
// that suits the link (Jitter.SetLinkHint).
func (o *Output) SetLinkHint(d time.Duration, ok bool) {
	o.mu.Lock()
	o.rx.SetLinkHint(d, ok)
	o.mu.Unlock()
}

// ResetVoice drops the burst being received, if any (the user switched
// to another group: what the old group says is no longer wanted).
func (o *Output) ResetVoice() {
	o.mu.Lock()
	o.rx.Reset()
	o.mu.Unlock()
	o.kick()
}

// VoiceStats returns the receive path's counters (safe while Run runs).
func (o *Output) VoiceStats() JitterStats {
	o.mu.Lock()
	s := o.rx.Stats()
	o.mu.Unlock()
	if s.MouthToEarFrames > 0 {
		// A frame handed to the card is heard after the card's buffer.
		lat := float64(primeFrames(o.player)) * float64(FrameDuration) / float64(time.Millisecond)
		s.MouthToEarP50Ms += lat
		s.MouthToEarP95Ms += lat
	}
	return s
}

// PlayTone queues a rendered tone; it is mixed over whatever plays.
func (o *Output) PlayTone(pcm []int16) { o.enqueue(&o.tones, pcm) }

// PlayAfterVoice queues a tone that plays once the received voice has
// played out — at once if none is playing: the floor's end tone, which
// arrives while the last second of a burst may still be in the buffer.
func (o *Output) PlayAfterVoice(pcm []int16) { o.enqueue(&o.afterVoice, pcm) }

// PlayPrompt queues a rendered prompt; prompts play in order, one at a time,
// and give way to received voice.
func (o *Output) PlayPrompt(pcm []int16) { o.enqueue(&o.prompts, pcm) }

func (o *Output) enqueue(q *[][]int16, pcm []int16) {
	o.mu.Lock()
	if len(*q) >= o.maxQueue {
		o.dropped++ // a flood of prompts: the oldest waiting one goes
		*q = append((*q)[:0], (*q)[1:]...)
	}
	*q = append(*q, pcm)
	o.mu.Unlock()
	o.kick()
}

// PromptBacklog is how much prompt audio waits to be played: the
// Prompter renders no further ahead than its MaxAhead.
func (o *Output) PromptBacklog() time.Duration {
	o.mu.Lock()
	n := 0
	for _, p := range o.prompts {
		n += len(p)
	}
	o.mu.Unlock()
	return time.Duration(n) * time.Second / SampleRate
}

// Playing reports whether the speaker is in use: its stream runs, or
// something waits to be played. When it turns false, everything queued
// has been handed to the player and the player has stopped (a stop
// drains what the card buffered).
func (o *Output) Playing() bool {
	return o.running.Load() || o.pending()
}

// Dropped counts tones and prompts dropped because their queue was full.
func (o *Output) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

func (o *Output) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run plays until ctx ends.
func (o *Output) Run(ctx context.Context) error {
	frame := make([]int16, FrameSamples)
	silence := make([]int16, FrameSamples)
	started := false
	defer func() {
		if started {
			o.player.Stop()
		}
		o.running.Store(false)
	}()
	start := func() error {
		o.running.Store(true)
		if err := o.player.Start(); err != nil {
			return err
		}
		started = true
		// Prime the card with its own buffer's worth of silence, so that
		// every frame — the first ones too — is decided as long before it
		// is heard as the card buffers. Without it the first frames of a
		// burst went into an empty card at once, the next decision came
		// a buffer earlier than the packets' rhythm allows, and the
		// playout underran.
		clear(silence)
		for range primeFrames(o.player) {
			if err := o.player.WriteFrame(silence); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		// The card starts before the first frame is decided: starting a
		// stream can take a hundred milliseconds or more (PortAudio, ALSA,
		// JACK; the starts are serialised), and a frame decided before it
		// would be heard that much later than the playout planned —
		// received voice then began every burst with a backlog to catch
		// up.
		if !started && o.pending() {
			if err := start(); err != nil {
				return err
			}
		}
		more, voice := o.next(time.Now(), frame)
		if voice != o.voice {
			o.voice = voice
			if o.OnVoice != nil {
				o.OnVoice(voice)
			}
		}
		if !more {
			if started {
				if err := o.player.Stop(); err != nil {
					return err
				}
				started = false
			}
			o.running.Store(false)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-o.wake:
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !started {
			// Something came between pending and next (a packet, a
			// prompt): the card was not started for it yet. Writing to
			// a stopped stream fails, and ended the speaker's playout.
			if err := start(); err != nil {
				return err
			}
		}
		if err := o.player.WriteFrame(frame); err != nil {
			return err
		}
	}
}

// pending reports whether anything waits to be played.
func (o *Output) pending() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, receiving := o.rx.Active()
	return receiving || len(o.prompts) > 0 || len(o.tones) > 0 || len(o.afterVoice) > 0
}

// A Player that buffers frames ahead of what is heard says how long, so
// the Output can prime it (PAPlayback, PacePlayer).
type bufferedPlayer interface {
	Latency() time.Duration
}

// primeFrames is how many frames of silence fill p's buffer.
func primeFrames(p Player) int {
	bp, ok := p.(bufferedPlayer)
	if !ok {
		return 0
	}
	return int((bp.Latency() + FrameDuration/2) / FrameDuration)
}

// next fills frame for the turn at now; more is false when there is
// nothing at all to play.
func (o *Output) next(now time.Time, frame []int16) (more, voice bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(frame)
	_, receiving := o.rx.Active()
	switch {
	case receiving:
		kind, err := o.rx.Next(now, frame)
		if err != nil || kind == PlayNothing || kind == PlayEnd {
			clear(frame) // buffering, or just ended: silence, voice still wins
		}
		more, voice = true, kind == PlayFrame || kind == PlayConceal || kind == PlayStall
	case len(o.prompts) > 0:
		p := o.prompts[0]
		n := copy(frame, p)
		if n == len(p) {
			o.prompts = o.prompts[1:]
		} else {
			o.prompts[0] = p[n:]
		}
		more = true
	}
	if _, receiving := o.rx.Active(); !receiving && len(o.afterVoice) > 0 {
		// The voice has played out (maybe this very turn): its tones follow.
		o.tones = append(o.tones, o.afterVoice...)
		clear(o.afterVoice)
		o.afterVoice = o.afterVoice[:0]
	}
	if len(o.tones) > 0 {
		t := o.tones[0]
		for i := 0; i < len(frame) && i < len(t); i++ {
			frame[i] = mix(frame[i], t[i])
		}
		if len(t) <= len(frame) {
			o.tones = o.tones[1:]
		} else {
			o.tones[0] = t[len(frame):]
		}
		more = true
	}
	if o.gain != unityGain {
		for i, v := range frame {
			frame[i] = int16(int32(v) * o.gain >> 15)
		}
	}
	return more, voice
}

func mix(a, b int16) int16 {
	s := int32(a) + int32(b)
	return int16(max(-32768, min(32767, s)))
}

// ErrQueueFull is returned by Prompter.Say when prompts come faster than
// they can be spoken.
var ErrQueueFull = errors.New("prompt queue full")
