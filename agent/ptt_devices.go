package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
)

// The handset's push-to-talk hardware, opened from the config: keys,
// LEDs, battery, microphone and speaker.

// keySources builds the configured key sources: the bench socket, the
// input device's key codes and the GPIO lines, each debounced except the
// bench (a socket does not bounce).
func keySources(cfg *config.Config, log *slog.Logger) ([]board.Key, error) {
	b := cfg.Board
	var keys []board.Key
	if b.BenchSocket != "" {
		keys = append(keys, &board.Bench{Path: b.BenchSocket, Logger: log})
	}
	codes, lines := map[uint16]board.KeyName{}, map[int]board.KeyName{}
	for name, s := range map[board.KeyName]string{board.PTT: b.Keys.PTT, board.GroupUp: b.Keys.GroupUp,
		board.GroupDown: b.Keys.GroupDown, board.VolumeUp: b.Keys.VolumeUp, board.VolumeDown: b.Keys.VolumeDown} {
		spec, ok, err := config.ParseKeySpec(s)
		switch {
		case err != nil:
			return nil, fmt.Errorf("board.keys.%s: %w", name, err)
		case !ok:
		case spec.GPIO >= 0:
			lines[spec.GPIO] = name
		default:
			codes[spec.Code] = name
		}
	}
	if len(codes) > 0 {
		keys = append(keys, board.Debounce(&board.Evdev{Path: b.InputDevice, Codes: codes, Grab: b.InputGrab, Logger: log}, b.Debounce.D()))
	}
	if len(lines) > 0 {
		keys = append(keys, board.Debounce(&board.GPIO{Chip: b.GPIOChip, Lines: lines, ActiveLow: b.GPIOActiveLow,
			Bias: b.GPIOBias, Logger: log}, b.Debounce.D()))
	}
	return keys, nil
}

// leds are the three indicators; a missing one is nil and ignored.
type leds struct {
	tx, rx, online board.LED
	log            *slog.Logger
}

func openLEDs(cfg *config.Config, log *slog.Logger) leds {
	l := leds{log: log}
	open := func(key, name string) board.LED {
		if name == "" {
			return nil
		}
		led, err := board.OpenLED(cfg.Board.SysfsRoot, name)
		if err != nil {
			log.Warn("LED not available", "key", key, "err", err)
			return nil
		}
		return led
	}
	l.tx = open("board.leds.transmitting", cfg.Board.LEDs.Transmitting)
	l.rx = open("board.leds.receiving", cfg.Board.LEDs.Receiving)
	l.online = open("board.leds.online", cfg.Board.LEDs.Online)
	return l
}

func (l leds) set(led board.LED, on bool) {
	if led == nil {
		return
	}
	if err := led.Set(on); err != nil {
		l.log.Debug("LED", "err", err)
	}
}

func (l leds) blink(led board.LED, on, off time.Duration) {
	if led == nil {
		return
	}
	if err := led.Blink(on, off); err != nil {
		l.log.Debug("LED", "err", err)
	}
}

func openBattery(cfg *config.Config, log *slog.Logger) board.Battery {
	if cfg.Board.Battery == "none" {
		return nil
	}
	b, err := board.OpenBattery(cfg.Board.SysfsRoot, cfg.Board.Battery)
	if err != nil {
		if cfg.Board.Battery != "" || !errors.Is(err, board.ErrNoDevice) {
			log.Warn("battery not available", "err", err)
		} else {
			log.Info("no battery found; battery prompts are off (set board.battery: none to say so)")
		}
		return nil
	}
	return b
}

// sound is the opened microphone and speaker with everything that works
// on them.
type sound struct {
	paCapt   *audio.PACapture
	paPlay   *audio.PAPlayback
	capt     audio.Capturer
	play     audio.Player
	latency  time.Duration // playback: written → heard
	out      *audio.Output
	rx       *audio.Receiver
	pk       *audio.Packetizer
	tx       *audio.Transmitter
	prompter *audio.Prompter
	tones    map[floor.Tone][]int16

	volumeTone []int16 // the tick at a new volume level
}

// openSound opens the configured PortAudio devices and builds the voice
// path on them.
func openSound(cfg *config.Config, log *slog.Logger) (*sound, error) {
	a := cfg.Audio
	audio.SetLogger(log)
	s := &sound{tones: map[floor.Tone][]int16{}}
	var err error
	if s.paCapt, err = audio.OpenCapture(a.CaptureDevice); err != nil {
		return nil, err
	}
	if s.paPlay, err = audio.OpenPlayback(a.PlaybackDevice); err != nil {
		s.paCapt.Close()
		return nil, err
	}
	s.capt, s.play, s.latency = s.paCapt, s.paPlay, s.paPlay.Latency()
	if a.Pace {
		const buffered = 2 // frames a paced card holds: 40 ms, like a low-latency card
		s.capt, s.play, s.latency = audio.PaceCapture(s.paCapt), audio.PacePlayer(s.paPlay, buffered), buffered*audio.FrameDuration
	}
	fail := func(err error) (*sound, error) {
		s.close()
		return nil, err
	}
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: a.Bitrate, Complexity: a.Complexity, ExpectedLoss: a.ExpectedLoss})
	if err != nil {
		return fail(err)
	}
	if s.pk, err = audio.NewPacketizer(enc, a.FramesPerPacket); err != nil {
		return fail(err)
	}
	s.tx = &audio.Transmitter{Capture: s.capt, Packetizer: s.pk}
	frames := func(d config.Duration) int { return int(d.D() / audio.FrameDuration) }
	if s.rx, err = audio.NewReceiver(audio.JitterConfig{Target: frames(a.JitterTarget), Max: frames(a.JitterMax)}); err != nil {
		return fail(err)
	}
	s.out = audio.NewOutput(s.play, s.rx)
	t := cfg.TTS
	s.prompter = audio.NewPrompter(audio.TTS{Command: t.Command, Voice: t.Voice, Speed: t.Speed, Volume: t.Volume}, s.out, 8)
	s.prompter.Logger = log
	for ft, at := range map[floor.Tone]audio.Tone{floor.ToneGrant: audio.ToneGrant, floor.ToneDeny: audio.ToneDeny,
		floor.ToneQueued: audio.ToneQueued, floor.ToneRevoke: audio.ToneRevoke, floor.ToneEnd: audio.ToneEnd,
		floor.ToneWarning: audio.ToneWarning} {
		pcm, err := audio.RenderTone(at, a.ToneVolume)
		if err != nil {
			return fail(err)
		}
		s.tones[ft] = pcm
	}
	if s.volumeTone, err = audio.RenderTone(audio.ToneVolume, a.ToneVolume); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *sound) close() {
	if s.paCapt != nil {
		s.paCapt.Close()
	}
	if s.paPlay != nil {
		s.paPlay.Close()
	}
}

// keepRunning runs f until ctx ends; when f fails it is logged and run
// again after wait, so a device error in one part (the speaker) does not
// stop the rest of the agent (GPS, tracks).
func keepRunning(ctx context.Context, log *slog.Logger, what string, wait time.Duration, f func(context.Context) error) error {
	for {
		err := f(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Error(what+" failed; restarting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
