package ptt

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/audio"
)

// sound is the voice path built on an opened card.
type sound struct {
	dev       Sound
	out       *audio.Output
	enc       *audio.Encoder
	floor     func(speaker string)    // out.FloorChanged (a test listens here)
	idleAfter func(burst, end uint32) // out.FloorIdleAfter
	rx        *audio.Receiver
	pk        *audio.Packetizer
	tx        *audio.Transmitter
	prompter  Prompter // nil: no prompts
	tones     map[floor.Tone][]int16

	volumeTone []int16 // the tick at a new volume level
}

// newSound builds the voice path on dev: Opus and packets for the
// microphone, jitter buffer and Output for the speaker, the rendered
// tones, and the prompts' speaker.
func newSound(dev Sound, a Audio, prompter func(*audio.Output) Prompter) (*sound, error) {
	s := &sound{dev: dev, tones: map[floor.Tone][]int16{}}
	enc, err := audio.NewEncoder(a.Encoder)
	if err != nil {
		return nil, err
	}
	if s.pk, err = audio.NewPacketizer(enc, a.FramesPerPacket); err != nil {
		return nil, err
	}
	s.tx = &audio.Transmitter{Capture: dev.Capture, Packetizer: s.pk}
	s.enc = enc
	if s.rx, err = audio.NewReceiver(a.Jitter); err != nil {
		return nil, err
	}
	s.out = audio.NewOutput(dev.Play, s.rx)
	s.floor, s.idleAfter = s.out.FloorChanged, s.out.FloorIdleAfter
	if prompter != nil {
		s.prompter = prompter(s.out)
	}
	for ft, at := range map[floor.Tone]audio.Tone{floor.ToneGrant: audio.ToneGrant, floor.ToneDeny: audio.ToneDeny,
		floor.ToneQueued: audio.ToneQueued, floor.ToneRevoke: audio.ToneRevoke, floor.ToneEnd: audio.ToneEnd,
		floor.ToneWarning: audio.ToneWarning} {
		pcm, err := audio.RenderTone(at, a.ToneVolume)
		if err != nil {
			return nil, err
		}
		s.tones[ft] = pcm
	}
	if s.volumeTone, err = audio.RenderTone(audio.ToneVolume, a.ToneVolume); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sound) close() {
	s.dev.Capture.Close()
	s.dev.Play.Close()
}

// openSound opens the card and builds the voice path on it, trying again
// every SoundRetry while the card is missing; health says so meanwhile.
func (p *PTT) openSound(ctx context.Context) (*sound, error) {
	for failures := 0; ; failures++ {
		snd, err := p.tryOpenSound()
		if err == nil {
			p.parts.Health.SetHealthy(health.SoundAbsent)
			p.mu.Lock()
			p.snd, p.st.AudioError = snd, ""
			p.mu.Unlock()
			p.tune.mu.Lock()
			p.tune.enc = snd.enc
			p.tune.mu.Unlock()
			return snd, nil
		}
		p.parts.Health.SetUnhealthy(health.SoundAbsent, err.Error())
		p.setStatus(func(s *Status) { s.AudioError = err.Error() })
		if failures == 0 {
			p.log.Error("push-to-talk waits for the sound card", "err", err, "retry_every", SoundRetry,
				"check", "audio.capture_device and audio.playback_device")
		}
		t := time.NewTimer(SoundRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (p *PTT) tryOpenSound() (*sound, error) {
	if p.parts.OpenSound == nil {
		return nil, errors.New("no sound card configured")
	}
	dev, err := p.parts.OpenSound()
	if err != nil {
		return nil, err
	}
	snd, err := newSound(dev, p.o.Audio, p.parts.Prompter)
	if err != nil {
		dev.Capture.Close()
		dev.Play.Close()
		return nil, err
	}
	return snd, nil
}

// keepRunning runs f until ctx ends; when f fails it is logged, fault
// (if any) is told, and f runs again after restartWait, so a device error
// in one part (the speaker) does not stop the rest of the agent. fault(nil)
// follows once f has run healedAfter without failing.
func (p *PTT) keepRunning(ctx context.Context, what string, f func(context.Context) error, fault func(error)) {
	if fault == nil {
		fault = func(error) {}
	}
	for {
		healed := time.AfterFunc(healedAfter, func() { fault(nil) })
		err := f(ctx)
		healed.Stop()
		if ctx.Err() != nil {
			return
		}
		p.log.Error(what+" failed; restarting", "err", err, "in", restartWait)
		fault(err)
		t := time.NewTimer(restartWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// soundFaults collects what failed in use (microphone, speaker, …) into
// the one health.SoundFailing, whose sole owner push-to-talk is.
type soundFaults struct {
	report func(error)
	mu     sync.Mutex
	by     map[string]string
}

// set records what's failure (nil: it works) and reports the whole.
func (f *soundFaults) set(what string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	had := len(f.by)
	if err == nil {
		if _, ok := f.by[what]; !ok {
			return
		}
		delete(f.by, what)
	} else {
		if f.by == nil {
			f.by = map[string]string{}
		}
		f.by[what] = err.Error()
	}
	if len(f.by) == 0 {
		if had > 0 {
			f.report(nil)
		}
		return
	}
	parts := make([]string, 0, len(f.by))
	for w, e := range f.by {
		parts = append(parts, w+": "+e)
	}
	sort.Strings(parts)
	f.report(errors.New(strings.Join(parts, "; ")))
}
