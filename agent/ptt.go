package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/uplink/recording"
	"github.com/pttagent/pttagent/wire"
)

// pushToTalk is the handset's reason to exist: the PTT key asks the
// platform for the floor, the grant opens the microphone and the group
// hears the burst; what others say plays on the speaker, one speaker at a
// time as the floor says; tones, prompts, LEDs and recordings go with it.
//
// One goroutine (loop) owns the floor state (agent/floor's pure machine)
// and carries out every side effect; keys, MQTT handlers, timers and the
// platform sync only hand it inputs. The voice itself never passes
// through the loop: the talk goroutine sends packets straight to MQTT, and
// the MQTT voice handler hands them straight to the Output.
type pushToTalk struct {
	a       *Agent
	cfg     *config.Config
	log     *slog.Logger
	fcfg    floor.Config
	say     phrases
	recs    *recording.Queue // nil: no recordings
	upload  *recording.Uploader
	prefsAt string   // {state_dir}/ptt.json
	prefs   pttPrefs // owned by loop after newPTT

	snd   *sound // nil until the devices are open
	leds  leds
	batt  board.Battery
	keysC chan board.KeyEvent
	floor chan wire.Floor
	texts chan wire.GroupMessage
	fired chan timerFire
	ended chan error // a talk burst ended by itself (microphone failure)

	// Owned by loop.
	fs        floor.State
	timers    [4]*time.Timer
	gen       [4]uint64
	active    int64
	voiceSub  string
	speakers  map[int64]string
	lastFloor map[int64]int64 // per group: ts of the last taken/idle applied
	talk      *talkBurst
	keyAt     time.Time // the PTT press that led to the current request
	ttsOn     bool
	model     *platform.Model
	upSince   time.Time
	lostSaid  bool
	lowSaid   bool
	gpsSaid   bool
	gpsSince  time.Time
	lastFix   bool

	// Read by the MQTT voice handler.
	listenPrefix atomic.Pointer[string] // "{prefix}/group/{id}/voice/", nil: not listening
	talking      atomic.Bool
	rxBurst      atomic.Uint32
	rxCapture    atomic.Int64 // Unix µs when the current received burst's frame 0 was captured

	mu sync.Mutex
	st PTTStatus
}

type timerFire struct {
	timer floor.Timer
	req   uint32
	gen   uint64
}

// talkBurst is one burst being sent.
type talkBurst struct {
	group  int64
	burst  uint32
	cancel context.CancelFunc
	done   chan struct{}
	rec    *recording.Burst
	sent   atomic.Uint64 // packets
	frames uint32
	err    error
}

func newPTT(a *Agent) (*pushToTalk, error) {
	cfg := a.cfg
	p := &pushToTalk{a: a, cfg: cfg, log: a.log.With("part", "ptt"),
		fcfg: floor.Config{DefaultTalkTime: cfg.Floor.TalkTime.D(), Warning: cfg.Floor.Warning.D(),
			ResponseTimeout: cfg.Floor.ResponseTimeout.D()},
		say: phrasesFor(cfg.TTS.Voice), keysC: make(chan board.KeyEvent, 16), floor: make(chan wire.Floor, 64),
		texts: make(chan wire.GroupMessage, 16), fired: make(chan timerFire, 8), ended: make(chan error, 1),
		speakers: map[int64]string{}, lastFloor: map[int64]int64{}, ttsOn: cfg.TTS.Enabled,
		prefsAt: filepath.Join(cfg.StateDir, "ptt.json")}
	p.st.Floor = floor.Idle.String()
	p.prefs = p.loadPrefs()
	if p.prefs.Volume < 1 || p.prefs.Volume > 10 {
		p.prefs.Volume = cfg.Audio.Volume
	}
	p.st.Volume = p.prefs.Volume
	if a.sync != nil {
		a.sync.OnEvent = p.onEvent
		if g := p.prefs.ActiveGroup; g != 0 {
			a.sync.SetActive(g)
		}
		switch {
		case !cfg.Recordings.Enabled:
		case cfg.Secrets.PlatformPassword == "":
			// A wapi handset with a fixed token cannot log in to the corp
			// file-upload: recordings would only pile up on the disk.
			p.log.Warn("recordings are off: uploading them needs platform_password in the secrets file")
		default:
			if err := p.newUploader(); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// newUploader sends recordings with the corp API's file-upload: the
// sync's own client for a corp platform (one login), a second client on
// the same platform for wapi, whose seed has no upload (docs/protocol.md).
func (p *pushToTalk) newUploader() error {
	cfg := p.cfg
	var c *corp.Client
	if cc, ok := p.a.sync.Client.(*corp.Client); ok {
		c = cc
	} else {
		h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: cfg.Platform.BaseURL, Timeout: cfg.Platform.RequestTimeout.D(),
			CAFile: cfg.Platform.CAFile, Logger: p.log})
		if err != nil {
			return err
		}
		account := cfg.Platform.Account
		if account == "" {
			account = cfg.Device.Account
		}
		c = &corp.Client{HTTP: h, Account: account, Password: corp.HashPassword(cfg.Secrets.PlatformPassword), Logger: p.log}
	}
	timeout := max(cfg.Platform.RequestTimeout.D(), 2*time.Minute)
	p.upload = &recording.Uploader{
		Upload: func(ctx context.Context, name string, data []byte) (string, error) {
			return c.Upload(ctx, name, "audio/ogg", data, timeout)
		},
		Report: p.report,
		Logger: p.log.With("part", "recordings"),
	}
	return nil
}

// report publishes a recording report and waits for the broker's
// acknowledgement.
func (p *pushToTalk) report(ctx context.Context, r wire.RecordReport) error {
	if up, _ := p.a.mqtt.State(); !up {
		return errors.New("uplink down")
	}
	tok := p.a.mqtt.Publish(p.a.topics.Record(), 1, false, r.Encode())
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(p.cfg.MQTT.AckTimeout.D()):
		return fmt.Errorf("no acknowledgement within %s", p.cfg.MQTT.AckTimeout.D())
	}
}

// Run opens the devices (retrying while they are missing) and runs
// push-to-talk until ctx ends. A missing sound card never stops the rest
// of the agent.
func (p *pushToTalk) Run(ctx context.Context) error {
	if p.upload != nil {
		q, err := recording.Open(filepath.Join(p.cfg.StateDir, "recordings"), int64(p.cfg.Recordings.MaxQueueMB)<<20, p.log)
		if err != nil {
			p.log.Error("recordings disabled: cannot open their queue", "err", err)
		} else {
			p.mu.Lock()
			p.recs, p.upload.Queue = q, q
			p.mu.Unlock()
		}
	}
	for failures := 0; ; failures++ {
		snd, err := openSound(p.cfg, p.log)
		if err == nil {
			p.mu.Lock()
			p.snd, p.st.AudioError = snd, ""
			p.mu.Unlock()
			break
		}
		p.setStatus(func(s *PTTStatus) { s.AudioError = err.Error() })
		if failures == 0 {
			p.log.Error("push-to-talk waits for the sound card", "err", err, "retry_every", "10s",
				"check", "audio.capture_device and audio.playback_device")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
		}
	}
	defer p.snd.close()
	p.log.Info("push-to-talk ready", "capture", p.snd.paCapt.Name(), "playback", p.snd.paPlay.Name(),
		"paced", p.cfg.Audio.Pace, "recordings", p.recs != nil)
	p.snd.out.OnVoice = p.onVoicePlaying
	p.snd.out.SetGain(volumeGain(p.prefs.Volume))
	p.leds = openLEDs(p.cfg, p.log)
	p.batt = openBattery(p.cfg, p.log)
	if b := p.cfg.Board.BenchSocket; b != "" {
		if err := os.MkdirAll(filepath.Dir(b), 0o750); err != nil {
			p.log.Error("bench socket", "err", err)
		}
	}
	keys, err := keySources(p.cfg, p.log)
	if err != nil {
		p.log.Error("keys", "err", err)
	}
	if len(keys) == 0 {
		p.log.Warn("no PTT key configured (board.keys.ptt or board.bench_socket): the handset only listens")
	}

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer wg.Wait()
	defer cancel()
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	for _, k := range keys {
		run(func() {
			if err := k.Run(ctx, p.keysC); err != nil && ctx.Err() == nil {
				p.log.Error("key source stopped", "err", err)
			}
		})
	}
	run(func() { keepRunning(ctx, p.log, "speaker", 5*time.Second, p.snd.out.Run) })
	run(func() { keepRunning(ctx, p.log, "voice prompts", 5*time.Second, p.snd.prompter.Run) })
	if p.recs != nil {
		run(func() { keepRunning(ctx, p.log, "recording upload", 5*time.Second, p.upload.Run) })
	}
	p.a.mqtt.Subscribe(p.a.topics.FloorDown(), 1, p.onFloor)
	return p.loop(ctx)
}

// loop is the one place where push-to-talk decides and acts.
func (p *pushToTalk) loop(ctx context.Context) error {
	var modelC <-chan struct{}
	if p.a.sync != nil {
		p.model, modelC = p.a.sync.Watch()
	}
	p.applyModel()
	up, upC := p.a.mqtt.State()
	p.uplink(up)
	lost := time.NewTimer(time.Hour)
	lost.Stop()
	batt := time.NewTicker(30 * time.Second)
	defer batt.Stop()
	p.checkBattery()
	gpsTick := time.NewTicker(time.Second)
	defer gpsTick.Stop()
	defer p.shutdown()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-p.keysC:
			p.onKey(ev)
		case f := <-p.floor:
			p.onFloorMsg(f)
		case tf := <-p.fired:
			if tf.gen == p.gen[tf.timer] {
				p.step(floor.Input{Kind: floor.TimerFired, Timer: tf.timer, Req: tf.req})
			}
		case err := <-p.ended:
			p.log.Error("microphone failed mid-burst; releasing the floor", "err", err)
			p.step(floor.Input{Kind: floor.Cancel})
		case <-modelC:
			p.model, modelC = p.a.sync.Watch()
			p.applyModel()
		case m := <-p.texts:
			p.onText(m)
		case <-upC:
			up, upC = p.a.mqtt.State()
			p.uplink(up)
			if up {
				lost.Stop()
			} else {
				lost.Reset(5 * time.Second)
			}
		case <-lost.C:
			if up, _ := p.a.mqtt.State(); !up && !p.lostSaid {
				p.lostSaid = true
				p.speak(p.say.uplinkLost)
			}
		case <-batt.C:
			p.checkBattery()
		case <-gpsTick.C:
			p.checkGPS()
		}
	}
}

// shutdown leaves the floor on the way out: the microphone stops and a
// release goes out while the link is still up.
func (p *pushToTalk) shutdown() {
	if p.fs.Phase != floor.Idle {
		p.step(floor.Input{Kind: floor.Cancel})
	}
	p.stopTalk()
	for i := range p.timers {
		if p.timers[i] != nil {
			p.timers[i].Stop()
		}
	}
}

// step feeds the floor machine and carries out what it says.
func (p *pushToTalk) step(in floor.Input) {
	prev := p.fs
	next, acts := floor.Step(p.fs, in, p.fcfg)
	p.fs = next
	for _, a := range acts {
		p.do(a)
	}
	if prev.Phase != next.Phase {
		p.log.Debug("floor", "from", prev.Phase, "to", next.Phase, "group", next.Group, "req", next.Req, "cause", next.Cause)
	}
	var grantMs float64
	if next.Phase == floor.HasPermission && prev.Phase != floor.HasPermission && !p.keyAt.IsZero() {
		grantMs = float64(time.Since(p.keyAt).Microseconds()) / 1000
	}
	p.setStatus(func(s *PTTStatus) {
		if grantMs > 0 {
			s.LastGrantMs = grantMs
		}
		s.Floor, s.Speaker = next.Phase.String(), p.speakers[p.active]
		if next.Cause != prev.Cause && next.Cause != "" {
			s.LastCause = next.Cause
		}
		if next.Phase == floor.Queued {
			s.QueuePosition = next.Position
		} else {
			s.QueuePosition = 0
		}
		s.TalkLimitS = next.TalkLimit.Seconds()
	})
}

func (p *pushToTalk) do(a floor.Action) {
	switch a.Kind {
	case floor.SendRequest:
		p.publishFloor(wire.Floor{Type: wire.FloorRequest, Group: a.Group, Req: a.Req})
		p.setStatus(func(s *PTTStatus) { s.Requests++ })
	case floor.SendRelease:
		p.publishFloor(wire.Floor{Type: wire.FloorRelease, Group: a.Group, Req: a.Req})
	case floor.PlayTone:
		if pcm := p.snd.tones[a.Tone]; pcm != nil {
			p.snd.out.PlayTone(pcm)
		}
		p.setStatus(func(s *PTTStatus) {
			switch a.Tone {
			case floor.ToneGrant:
				s.Grants++
			case floor.ToneDeny:
				s.Denies++
			case floor.ToneRevoke:
				s.Revokes++
			case floor.ToneQueued:
				s.Queued++
			}
		})
	case floor.StartCapture:
		p.startTalk(p.fs.Group)
	case floor.StopCapture:
		p.stopTalk()
	case floor.StartTimer:
		p.gen[a.Timer]++
		if t := p.timers[a.Timer]; t != nil {
			t.Stop()
		}
		tf := timerFire{timer: a.Timer, req: a.Req, gen: p.gen[a.Timer]}
		p.timers[a.Timer] = time.AfterFunc(a.After, func() { p.fired <- tf })
	case floor.StopTimer:
		p.gen[a.Timer]++
		if t := p.timers[a.Timer]; t != nil {
			t.Stop()
		}
	}
}

func (p *pushToTalk) publishFloor(f wire.Floor) {
	f.TimeMs = time.Now().UnixMilli()
	p.a.mqtt.Publish(p.a.topics.FloorUp(), 1, false, f.Encode())
	p.log.Debug("floor sent", "type", f.Type, "group", f.Group, "req", f.Req)
}

// onKey handles one key edge.
func (p *pushToTalk) onKey(ev board.KeyEvent) {
	switch ev.Key {
	case board.PTT:
		if !ev.Down {
			p.step(floor.Input{Kind: floor.KeyRelease})
			return
		}
		if p.fs.KeyDown {
			return
		}
		if cause := p.mayTalk(); cause != "" {
			// Refused here, without asking: the platform would refuse too,
			// and the user hears at once.
			p.log.Info("PTT refused", "cause", cause, "group", p.active)
			p.snd.out.PlayTone(p.snd.tones[floor.ToneDeny])
			p.setStatus(func(s *PTTStatus) { s.LocalDenies++; s.LastCause = cause })
			return
		}
		p.keyAt = ev.Time
		p.step(floor.Input{Kind: floor.KeyPress, Group: p.active})
	case board.GroupUp, board.GroupDown:
		if ev.Down {
			p.switchGroup(map[board.KeyName]int{board.GroupUp: 1, board.GroupDown: -1}[ev.Key])
		}
	case board.VolumeUp, board.VolumeDown:
		if ev.Down {
			p.changeVolume(map[board.KeyName]int{board.VolumeUp: 1, board.VolumeDown: -1}[ev.Key])
		}
	}
}

// mayTalk says why this member may not talk in the active group now, or "".
func (p *pushToTalk) mayTalk() string {
	m := p.model
	g := m.Group(p.active)
	switch {
	case g == nil:
		return "no-group"
	case !m.Self.State.CanTalk():
		return wire.CauseMemberState
	case !g.My.Speak && g.Muted:
		return wire.CauseMuted
	case !g.My.Speak || !g.My.Call:
		return wire.CauseNoPermission
	}
	return ""
}

// onFloorMsg applies one message of the platform's arbiter.
func (p *pushToTalk) onFloorMsg(f wire.Floor) {
	in := floor.Input{Group: f.Group, Req: f.Req, Cause: f.Cause, Position: f.Position, Speaker: f.Speaker,
		TalkTime: time.Duration(f.TalkTime) * time.Second}
	switch f.Type {
	case wire.FloorGranted:
		in.Kind = floor.Granted
		p.speakers[f.Group] = p.a.cfg.Device.Account
	case wire.FloorDeny:
		in.Kind = floor.Denied
	case wire.FloorQueued:
		in.Kind = floor.QueuedMsg
	case wire.FloorRevoke:
		in.Kind = floor.Revoked
		p.log.Info("floor revoked", "group", f.Group, "cause", f.Cause)
	case wire.FloorIdle, wire.FloorTaken:
		// MQTT may hand two messages over out of order; the older one of a
		// pair that crossed says nothing new.
		if f.TimeMs != 0 && f.TimeMs < p.lastFloor[f.Group] {
			return
		}
		p.lastFloor[f.Group] = f.TimeMs
		if f.Type == wire.FloorIdle {
			in.Kind = floor.FloorIdle
			delete(p.speakers, f.Group)
		} else {
			in.Kind = floor.Taken
			p.speakers[f.Group] = f.Speaker
		}
	default:
		return
	}
	p.step(in)
}

// startTalk opens the microphone for a granted burst: packets go to the
// group, frames to the recording.
func (p *pushToTalk) startTalk(group int64) {
	if p.talk != nil {
		return
	}
	t := &talkBurst{group: group, burst: rand.Uint32() | 1, done: make(chan struct{})}
	begin := time.Now()
	if p.recs != nil {
		name := ""
		if g := p.model.Group(group); g != nil {
			name = g.Name
		}
		rec, err := p.recs.Begin(recording.Meta{Account: p.cfg.Device.Account, Group: group, GroupName: name,
			Burst: t.burst, BeginMs: begin.UnixMilli()})
		if err != nil {
			p.log.Error("burst not recorded", "err", err)
		} else {
			t.rec = rec
		}
	}
	if t.rec != nil {
		p.snd.pk.OnFrame = t.rec.Frame
	} else {
		p.snd.pk.OnFrame = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	p.talk = t
	p.talking.Store(true)
	p.leds.set(p.leds.tx, true)
	topic := p.a.topics.Voice(group)
	keyAt := p.keyAt
	var bufs voiceBuffers
	go func() {
		defer close(t.done)
		first := true
		t.frames, t.err = p.snd.tx.Talk(ctx, t.burst, func(payload []byte) {
			if first {
				first = false
				if !keyAt.IsZero() {
					ms := float64(time.Since(keyAt).Microseconds()) / 1000
					p.setStatus(func(s *PTTStatus) { s.LastAccessMs = ms })
				}
			}
			bufs.publish(payload, func(b []byte) paho.Token { return p.a.mqtt.Publish(topic, 0, false, b) })
			t.sent.Add(1)
		})
		if t.err != nil && ctx.Err() == nil {
			select {
			case p.ended <- t.err:
			default:
			}
		}
	}()
	grantMs := 0.0
	if !keyAt.IsZero() {
		grantMs = float64(begin.Sub(keyAt).Microseconds()) / 1000
	}
	p.log.Info("talking", "group", group, "burst", t.burst, "talk_limit", p.fs.TalkLimit, "grant_ms", grantMs)
}

// stopTalk closes the microphone: the talk goroutine sends the burst's
// last packet before this returns, so it leaves ahead of the release.
func (p *pushToTalk) stopTalk() {
	t := p.talk
	if t == nil {
		return
	}
	p.talk = nil
	t.cancel()
	select {
	case <-t.done:
	case <-time.After(2 * time.Second):
		p.log.Error("the microphone did not stop within 2 s")
	}
	p.talking.Store(false)
	p.leds.set(p.leds.tx, false)
	if t.err != nil {
		p.log.Warn("burst ended with an error", "err", t.err)
	}
	p.log.Info("talk ended", "group", t.group, "burst", t.burst, "frames", t.frames, "packets", t.sent.Load())
	if t.rec != nil {
		if m, err := t.rec.End(); err != nil {
			p.log.Error("recording", "err", err)
		} else if m.Complete {
			p.log.Debug("burst recorded", "id", m.ID, "duration_ms", m.DurationMs)
		}
	}
	p.setStatus(func(s *PTTStatus) {
		s.BurstsSent++
		s.FramesSent += uint64(t.frames)
		s.PacketsSent += t.sent.Load()
	})
}

// voiceBuffers hands MQTT a copy of each packet (paho sends it later,
// from another goroutine, and the packetizer reuses its buffer); buffers
// come back once paho has written them, so steady state allocates nothing
// here.
type voiceBuffers struct {
	slots [32]struct {
		buf []byte
		tok paho.Token
	}
	next int
}

func (v *voiceBuffers) publish(payload []byte, pub func([]byte) paho.Token) {
	s := &v.slots[v.next]
	v.next = (v.next + 1) % len(v.slots)
	if s.tok != nil {
		select {
		case <-s.tok.Done():
		default:
			s.buf = nil // still queued in paho: leave it there
		}
	}
	if cap(s.buf) < len(payload) {
		s.buf = make([]byte, 0, wire.MaxVoicePacket)
	}
	s.buf = append(s.buf[:0], payload...)
	s.tok = pub(s.buf)
}

// onVoice runs on MQTT's delivery goroutines: the active group's voice
// goes to the Output unless this handset is talking itself.
func (p *pushToTalk) onVoice(topic string, payload []byte) {
	pfx := p.listenPrefix.Load()
	if pfx == nil || !strings.HasPrefix(topic, *pfx) || p.talking.Load() ||
		topic[len(*pfx):] == p.cfg.Device.Account {
		p.count(func(s *PTTStatus) { s.VoiceIgnored++ })
		return
	}
	var pkt wire.VoicePacket
	if err := wire.DecodeVoicePacket(payload, &pkt); err == nil && pkt.Burst != p.rxBurst.Load() && pkt.NFrames > 0 {
		p.rxBurst.Store(pkt.Burst)
		p.rxCapture.Store(pkt.TimeMicro - int64(pkt.Seq)*audio.FrameDuration.Microseconds())
	}
	if err := p.snd.out.PutVoice(payload, time.Now()); err != nil {
		p.count(func(s *PTTStatus) { s.VoiceBad++ })
		return
	}
	p.count(func(s *PTTStatus) { s.VoiceReceived++ })
}

// onVoicePlaying is the Output's OnVoice: the receiving LED, and the
// mouth-to-ear delay of the burst that starts (capture of its first frame
// → the same frame heard, given the clocks agree).
func (p *pushToTalk) onVoicePlaying(on bool) {
	p.leds.set(p.leds.rx, on)
	m2e := 0.0
	if c := p.rxCapture.Load(); on && c != 0 {
		m2e = float64(time.Now().Add(p.snd.latency).UnixMicro()-c) / 1000
		p.log.Info("voice heard", "burst", p.rxBurst.Load(), "mouth_to_ear_ms", m2e)
	}
	p.setStatus(func(s *PTTStatus) {
		s.Receiving = on
		if on {
			s.BurstsHeard++
			if m2e != 0 {
				s.LastMouthToEarMs = m2e
			}
		}
	})
}

// onFloor runs on MQTT's delivery goroutines.
func (p *pushToTalk) onFloor(topic string, payload []byte) {
	f, err := wire.DecodeFloor(payload)
	if err != nil {
		p.log.Warn("dropping a malformed floor message", "err", err)
		p.count(func(s *PTTStatus) { s.FloorBad++ })
		return
	}
	select {
	case p.floor <- f:
	default:
		p.count(func(s *PTTStatus) { s.FloorBad++ })
	}
}

// onEvent is the sync's OnEvent: text messages are ours.
func (p *pushToTalk) onEvent(ev wire.Event) bool {
	if ev.MsgType != wire.EventGroupMessage {
		return false
	}
	m, err := wire.DecodeGroupMessage(ev.Content)
	if err != nil {
		p.log.Warn("dropping a malformed group message", "msg_id", ev.MsgID, "err", err)
		return true
	}
	select {
	case p.texts <- m:
	default:
		p.log.Warn("text messages come faster than they can be read; dropping one", "msg_id", ev.MsgID)
	}
	return true
}

func (p *pushToTalk) onText(m wire.GroupMessage) {
	text, ok := m.Text()
	p.log.Info("group message", "group", m.Group.ID, "from", m.User.Name, "text", text, "active", m.Group.ID == p.active)
	p.setStatus(func(s *PTTStatus) { s.TextMessages++ })
	if !ok || m.Group.ID != p.active {
		return
	}
	from := m.User.Name
	if from == "" {
		from = m.User.UserNum
	}
	p.speak(p.say.message(from, text))
}

// applyModel follows the platform: the active group, whether this member
// may listen and talk, and whether prompts are spoken.
func (p *pushToTalk) applyModel() {
	m := p.model
	p.ttsOn = p.cfg.TTS.Enabled
	if m != nil && m.Self.HasSettings {
		p.ttsOn = m.Self.TTS
	}
	var active int64
	if p.a.sync != nil {
		active = p.a.sync.Active()
	}
	if active != p.active {
		p.setActive(active)
	}
	p.listen()
	if p.fs.Phase != floor.Idle && p.fs.Phase != floor.PendingRelease {
		if cause := p.mayTalk(); cause != "" {
			p.log.Info("the platform took this member's right to talk; leaving the floor", "cause", cause)
			p.step(floor.Input{Kind: floor.Cancel})
			p.snd.out.PlayTone(p.snd.tones[floor.ToneRevoke])
		}
	}
	p.setStatus(func(s *PTTStatus) {
		s.TTS = p.ttsOn
		s.ActiveGroup, s.ActiveGroupName = p.active, ""
		if g := m.Group(p.active); g != nil {
			s.ActiveGroupName = g.Name
		}
	})
}

// setActive makes gid the group PTT talks to and listens to.
func (p *pushToTalk) setActive(gid int64) {
	if p.fs.Phase != floor.Idle {
		p.step(floor.Input{Kind: floor.Cancel})
	}
	p.log.Info("active group", "group", gid, "was", p.active)
	p.active = gid
	p.fs.Group, p.fs.Speaker = gid, p.speakers[gid]
	if p.voiceSub != "" {
		p.a.mqtt.Unsubscribe(p.voiceSub)
		p.voiceSub = ""
	}
	p.snd.out.ResetVoice()
	if gid != 0 {
		p.voiceSub = wire.GroupVoice(p.cfg.MQTT.TopicPrefix, gid, "+")
		p.a.mqtt.Subscribe(p.voiceSub, 0, p.onVoice)
	}
	p.listen()
}

// listen sets what the voice handler accepts.
func (p *pushToTalk) listen() {
	if p.active == 0 || (p.model != nil && !p.model.Self.State.CanListen()) {
		if p.listenPrefix.Swap(nil) != nil {
			p.snd.out.ResetVoice()
		}
		return
	}
	pfx := wire.GroupVoice(p.cfg.MQTT.TopicPrefix, p.active, "")
	if cur := p.listenPrefix.Load(); cur == nil || *cur != pfx {
		p.listenPrefix.Store(&pfx)
	}
}

// switchGroup moves to the next (dir 1) or previous (-1) group.
func (p *pushToTalk) switchGroup(dir int) {
	m := p.model
	if m == nil || len(m.Groups) == 0 {
		p.snd.out.PlayTone(p.snd.tones[floor.ToneDeny])
		return
	}
	i := 0
	for j, g := range m.Groups {
		if g.ID == p.active {
			i = j
		}
	}
	g := m.Groups[(i+dir+len(m.Groups))%len(m.Groups)]
	if g.ID == p.active {
		p.speak(g.Name)
		return
	}
	p.a.sync.SetActive(g.ID)
	p.prefs.ActiveGroup = g.ID
	p.savePrefs()
	p.setActive(g.ID)
	p.setStatus(func(s *PTTStatus) { s.ActiveGroup, s.ActiveGroupName = g.ID, g.Name })
	p.speak(g.Name)
}

// speak queues a prompt when the member's tts is on.
func (p *pushToTalk) speak(text string) {
	if !p.ttsOn || text == "" {
		return
	}
	if err := p.snd.prompter.Say(text); err != nil {
		p.count(func(s *PTTStatus) { s.PromptsDropped++ })
		p.log.Warn("prompt dropped", "text", text, "err", err)
		return
	}
	p.count(func(s *PTTStatus) { s.Prompts++ })
}

// uplink follows the broker connection: the online LED, and the floor,
// which cannot be held without a link.
func (p *pushToTalk) uplink(up bool) {
	if up {
		p.leds.set(p.leds.online, true)
		if p.lostSaid {
			p.lostSaid = false
			p.speak(p.say.uplinkRestored)
		}
		return
	}
	p.leds.blink(p.leds.online, 500*time.Millisecond, 500*time.Millisecond)
	if p.fs.Phase != floor.Idle {
		p.log.Warn("uplink lost; leaving the floor")
		p.step(floor.Input{Kind: floor.Cancel})
		p.snd.out.PlayTone(p.snd.tones[floor.ToneDeny])
	}
}

func (p *pushToTalk) checkBattery() {
	if p.batt == nil {
		return
	}
	st, err := p.batt.Read()
	if err != nil {
		p.log.Debug("battery", "err", err)
		return
	}
	p.setStatus(func(s *PTTStatus) {
		s.Battery = &BatteryStatus{Percent: st.Percent, Charging: st.Charging, Status: st.Status}
	})
	low := p.cfg.Board.LowBattery
	switch {
	case st.Percent < 0:
	case st.Percent <= low && !st.Charging && !p.lowSaid:
		p.lowSaid = true
		p.log.Warn("battery low", "percent", st.Percent)
		p.speak(p.say.batteryLow(st.Percent))
	case st.Charging || st.Percent > low+2:
		p.lowSaid = false
	}
}

// checkGPS announces a fix acquired or lost once it has held for 3 s, so a
// receiver that flickers does not chatter.
func (p *pushToTalk) checkGPS() {
	g := p.a.gps.Stats()
	has := g.LastFix.Valid && !g.LastFixAt.IsZero() && time.Since(g.LastFixAt) < 5*time.Second
	now := time.Now()
	if has != p.lastFix {
		p.lastFix, p.gpsSince = has, now
	}
	if has == p.gpsSaid || now.Sub(p.gpsSince) < 3*time.Second {
		return
	}
	p.gpsSaid = has
	if has {
		p.speak(p.say.gpsAcquired)
	} else {
		p.speak(p.say.gpsLost)
	}
}

// changeVolume moves the speaker's level one step and ticks at the new
// level, so the user hears where it is; at either end the level stays.
func (p *pushToTalk) changeVolume(step int) {
	level := max(1, min(10, p.prefs.Volume+step))
	if level != p.prefs.Volume {
		p.prefs.Volume = level
		p.snd.out.SetGain(volumeGain(level))
		p.savePrefs()
		p.setStatus(func(s *PTTStatus) { s.Volume = level })
		p.log.Info("volume", "level", level)
	}
	p.snd.out.PlayTone(p.snd.volumeTone)
}

// volumeGain maps the handset's volume level, 1 to 10, to a playback gain:
// 10 is full scale, each step down 3 dB (level 1 is −27 dB, about 1/22).
func volumeGain(level int) float64 {
	return math.Pow(10, -3*float64(10-level)/20)
}

// pttPrefs are the user's choices kept across reboots.
type pttPrefs struct {
	ActiveGroup int64 `json:"active_group"`
	Volume      int   `json:"volume,omitempty"`
}

func (p *pushToTalk) loadPrefs() pttPrefs {
	var pr pttPrefs
	if b, err := os.ReadFile(p.prefsAt); err == nil {
		if err := json.Unmarshal(b, &pr); err != nil {
			p.log.Warn("ignoring unreadable push-to-talk settings", "file", p.prefsAt, "err", err)
		}
	}
	return pr
}

func (p *pushToTalk) savePrefs() {
	b, _ := json.Marshal(p.prefs)
	tmp := p.prefsAt + ".tmp"
	err := os.WriteFile(tmp, b, 0o640)
	if err == nil {
		err = os.Rename(tmp, p.prefsAt)
	}
	if err != nil {
		p.log.Warn("cannot keep the active group and volume across reboots", "file", p.prefsAt, "err", err)
	}
}

func (p *pushToTalk) setStatus(f func(*PTTStatus)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}

// count is setStatus for the MQTT handlers' counters.
func (p *pushToTalk) count(f func(*PTTStatus)) { p.setStatus(f) }
