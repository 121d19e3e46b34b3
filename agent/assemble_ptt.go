package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/adapt"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// Push-to-talk from the config: its options, and the handset's hardware —
// keys, LEDs, battery, and the sound card as an opener push-to-talk
// retries.

func newPTT(cfg *config.Config, parts Parts, plat *platformClients, log *slog.Logger) (*ptt.PTT, error) {
	log = log.With("part", "ptt")
	a, t := cfg.Audio, cfg.TTS
	frames := func(d config.Duration) int { return int(d.D() / audio.FrameDuration) }
	o := ptt.Options{
		Account: cfg.Device.Account, TopicPrefix: cfg.MQTT.TopicPrefix,
		Floor: floor.Config{DefaultTalkTime: cfg.Floor.TalkTime.D(), Warning: cfg.Floor.Warning.D(),
			ResponseTimeout: cfg.Floor.ResponseTimeout.D()},
		Audio: ptt.Audio{
			Encoder:            audio.EncoderConfig{Bitrate: a.Bitrate, Complexity: a.Complexity, ExpectedLoss: a.ExpectedLoss},
			FramesPerPacket:    a.FramesPerPacket,
			UDPFramesPerPacket: a.UDPFramesPerPacket,
			Jitter: audio.JitterConfig{Target: frames(a.JitterTarget), Max: frames(a.JitterMax),
				BurstTimeout: a.BurstTimeout.D()},
			ToneVolume: a.ToneVolume, Volume: a.Volume,
		},
		TTS: t.Enabled, Voice: t.Voice, LowBattery: cfg.Board.LowBattery, StateDir: cfg.StateDir,
		RecordingsMaxBytes: int64(cfg.Recordings.MaxQueueMB) << 20, AckTimeout: cfg.MQTT.AckTimeout.D(),
		MaxSpokenText: t.MaxText, Notices: cfg.Messages.Notices,
		Missed: ptt.Missed{Count: cfg.Messages.Missed, MaxAge: cfg.Messages.MissedMaxAge.D(), Voice: cfg.Messages.MissedVoice},
		Emergency: ptt.EmergencyOptions{TrackPeriod: cfg.Emergency.TrackPeriod.D(), TrackFor: cfg.Emergency.TrackFor.D(),
			HotMic: cfg.Emergency.HotMic.D()},
		Logger: log,
	}
	audio.SetLogger(log)
	tts := audio.TTS{Command: t.Command, Voice: t.Voice, Speed: t.Speed, Volume: t.Volume}
	pp := ptt.Parts{Link: parts.MQTT, Health: parts.Health,
		OpenSound: func() (ptt.Sound, error) { return openSound(cfg.Audio) },
		Prompter: func(out *audio.Output) ptt.Prompter {
			pr := audio.NewPrompter(tts, out, 8)
			pr.Logger = log
			return pr
		},
		LEDs: openLEDs(cfg.Board, log), Battery: openBattery(cfg.Board, log),
		Alerts: parts.Alerts, Position: parts.Tracks.Position, Boost: parts.Tracks.Boost}
	if parts.Media != nil {
		pp.Media = parts.Media
	}
	if cfg.Audio.MQTTVoiceCopy != "off" {
		vc, err := newVoiceCopy(cfg, log)
		if err != nil {
			return nil, err
		}
		pp.VoiceCopy = vc
		if cfg.Audio.MQTTVoiceCopy == "auto" {
			offer := &voiceCopyOffer{log: log}
			parts.caps.add(offer.onCaps)
			pp.VoiceCopyOffered = offer.offered
		}
	}
	if parts.Sync != nil {
		pp.Models = parts.Sync
	}
	// While voice flows, the platform sync waits (agent/radio.go).
	pp.VoiceFlows = parts.rad.SetVoice
	if plat != nil {
		// Missed messages come from the corp history (a wapi handset logs
		// in to the corp API of the same platform, as for uploads).
		if plat.corp != nil {
			pp.History = plat.corp
		}
		pp.Roster = plat.roster
		status := wire.Topics{Prefix: cfg.MQTT.TopicPrefix, Account: cfg.Device.Account}.Status()
		pp.AnnounceGroup = func(group int64) {
			parts.MQTT.Publish(status, 1, true, wire.Presence{State: "online", Time: time.Now().Unix(), Version: parts.Version,
				Group: group}.Encode())
		}
	}
	keys, err := keySources(cfg.Board, cfg.Emergency.LongPress.D(), log)
	if err != nil {
		log.Error("keys", "err", err)
	}
	pp.Keys = keys
	if b := cfg.Board.BenchSocket; b != "" {
		if err := os.MkdirAll(filepath.Dir(b), 0o750); err != nil {
			log.Error("bench socket", "err", err)
		}
	}
	switch {
	case !cfg.Recordings.Enabled || plat == nil:
	case plat.corp == nil:
		// A wapi handset with a fixed token cannot log in to the corp
		// file-upload: recordings would only pile up on the disk.
		log.Warn("recordings are off: uploading them needs platform_password (or platform_password_md5) in the secrets file")
	default:
		c, timeout := plat.corp, max(cfg.Platform.RequestTimeout.D(), 2*time.Minute)
		pp.Uploader = ptt.UploadFunc(func(ctx context.Context, name string, data []byte) (string, error) {
			return c.Upload(ctx, name, "audio/ogg", data, timeout)
		})
	}
	return ptt.New(o, pp), nil
}

// newVoiceCopy is the second broker connection for a copy of the voice
// (ptt.VoiceCopy): the login wire.VoiceLogin of the device's username
// (also its client id), the device's password and TLS, no presence or
// will — the platform sees the device by its one main connection.
func newVoiceCopy(cfg *config.Config, log *slog.Logger) (*mqtt.Client, error) {
	o, err := brokerLogin(cfg)
	if err != nil {
		return nil, err
	}
	o.Username = wire.VoiceLogin(o.Username)
	o.ClientID, o.Logger = o.Username, log.With("part", "voice-copy")
	return mqtt.New(o), nil
}

// newMedia is the UDP voice path: what it receives goes where the
// broker's voice goes (push-to-talk, built after it: pt), the relay's
// reports retune the encoder, and it sends its keep-alives when the radio
// is awake for MQTT anyway.
func newMedia(cfg *config.Config, topics wire.Topics, mq *mqtt.Client, pt func() *ptt.PTT, log *slog.Logger) *media.Client {
	c := media.New(media.Options{Topics: topics, Control: mq,
		OnVoice: func(group int64, speaker string, payload []byte) {
			if p := pt(); p != nil {
				p.HearVoice(group, speaker, payload)
			}
		},
		OnReport: func(r media.Report) {
			if p := pt(); p != nil {
				p.LinkReport(adapt.Input{Path: adapt.UDP, Loss: r.Loss(), JitterMs: r.JitterMs(),
					Queue: time.Duration(r.QueueMs() * float64(time.Millisecond))})
			}
		},
		// One wake-up of the radio for both links: a keep-alive of the
		// NAT binding that is due anyway rides on the MQTT ping.
		KeepAlive: cfg.MQTT.KeepAlive.D(),
		Logger:    log.With("part", "media")})
	mq.OnWrite(c.Nudge)
	return c
}

// keySources builds the configured key sources: the bench socket, the
// input device's key codes and the GPIO lines, each debounced except the
// bench (a socket does not bounce), and each reporting SOS only when held
// for sosHold.
func keySources(b config.Board, sosHold time.Duration, log *slog.Logger) ([]board.Key, error) {
	var keys []board.Key
	if b.BenchSocket != "" {
		keys = append(keys, board.LongPress(&board.Bench{Path: b.BenchSocket, Logger: log}, board.SOS, sosHold))
	}
	codes, lines := map[uint16]board.KeyName{}, map[int]board.KeyName{}
	for name, s := range map[board.KeyName]string{board.PTT: b.Keys.PTT, board.GroupUp: b.Keys.GroupUp,
		board.GroupDown: b.Keys.GroupDown, board.VolumeUp: b.Keys.VolumeUp, board.VolumeDown: b.Keys.VolumeDown,
		board.SOS: b.Keys.SOS} {
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
		keys = append(keys, board.LongPress(board.Debounce(&board.Evdev{Path: b.InputDevice, Codes: codes, Grab: b.InputGrab, Logger: log},
			b.Debounce.D()), board.SOS, sosHold))
	}
	if len(lines) > 0 {
		keys = append(keys, board.LongPress(board.Debounce(&board.GPIO{Chip: b.GPIOChip, Lines: lines, ActiveLow: b.GPIOActiveLow,
			Bias: b.GPIOBias, Logger: log}, b.Debounce.D()), board.SOS, sosHold))
	}
	return keys, nil
}

// openLEDs opens the configured indicators; one that is missing is left
// out (nil) with a warning.
func openLEDs(b config.Board, log *slog.Logger) ptt.LEDs {
	open := func(key, name string) board.LED {
		if name == "" {
			return nil
		}
		led, err := board.OpenLED(b.SysfsRoot, name)
		if err != nil {
			log.Warn("LED not available", "key", key, "err", err)
			return nil
		}
		return led
	}
	return ptt.LEDs{
		Transmitting: open("board.leds.transmitting", b.LEDs.Transmitting),
		Receiving:    open("board.leds.receiving", b.LEDs.Receiving),
		Online:       open("board.leds.online", b.LEDs.Online),
	}
}

func openBattery(b config.Board, log *slog.Logger) board.Battery {
	if b.Battery == "none" {
		return nil
	}
	bat, err := board.OpenBattery(b.SysfsRoot, b.Battery)
	if err != nil {
		if b.Battery != "" || !errors.Is(err, board.ErrNoDevice) {
			log.Warn("battery not available", "err", err)
		} else {
			log.Info("no battery found; battery prompts are off (set board.battery: none to say so)")
		}
		return nil
	}
	return bat
}

// openSound opens the configured PortAudio devices, paced to the wall
// clock for cards made of files (audio.pace).
func openSound(a config.Audio) (ptt.Sound, error) {
	capt, err := audio.OpenCapture(a.CaptureDevice)
	if err != nil {
		return ptt.Sound{}, err
	}
	play, err := audio.OpenPlayback(a.PlaybackDevice)
	if err != nil {
		capt.Close()
		return ptt.Sound{}, err
	}
	s := ptt.Sound{Capture: capt, Play: play, Latency: play.Latency(),
		Stats: func() (c, p audio.DeviceStats) { return capt.Stats(), play.Stats() },
		Name:  fmt.Sprintf("capture %q, playback %q, paced %v", capt.Name(), play.Name(), a.Pace)}
	if a.Pace {
		const buffered = 2 // frames a paced card holds: 40 ms, like a low-latency card
		s.Capture, s.Play, s.Latency = audio.PaceCapture(capt), audio.PacePlayer(play, buffered), buffered*audio.FrameDuration
	}
	return s, nil
}
