// Package ptt is the handset's reason to exist: the PTT key asks the
// platform for the floor, the grant opens the microphone and the group
// hears the burst; what others say plays on the speaker, one speaker at a
// time as the floor says; tones, prompts, LEDs and recordings go with it.
//
// One goroutine (the loop) owns the floor state (agent/floor's pure
// machine) and carries out every side effect; keys, broker handlers,
// timers, the platform sync and health changes only hand it inputs. The
// voice itself never passes through the loop: the talk goroutine sends
// packets straight to the link, and received packets go straight to the
// Output (HearVoice).
//
// HearVoice takes the voice packets any transport receives (the broker's
// handler and the UDP media client), and the Output is told whenever the
// active group's floor goes idle or passes to a speaker, so a burst ends
// with the floor, not on a pause.
//
// The files follow the responsibilities: floor.go (keys → floor machine →
// actions), talk.go (microphone → packets → link), listen.go (packets →
// speaker, and the floor → playout seam), groups.go (the active group),
// announce.go (voice prompts: text messages and health), indicators.go
// (LEDs, volume, battery), recordings.go, prefs.go (ptt.json), sound.go
// (the voice path on an opened card), status.go.
package ptt

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/adapt"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/recording"
	"github.com/pttagent/pttagent/wire"
)

// Options are push-to-talk's settings (the agent fills them from the
// config file).
type Options struct {
	// Account is this handset's: its own voice is not played back, and a
	// grant makes it the speaker.
	Account string
	// TopicPrefix of the broker's topics (mqtt.topic_prefix).
	TopicPrefix string
	Floor       floor.Config
	Audio       Audio
	// TTS: prompts are spoken while the platform has not said otherwise
	// for this member.
	TTS bool
	// Voice is the prompts' espeak-ng voice, which picks their language.
	Voice string
	// LowBattery is the charge (percent) at which the battery is low.
	LowBattery int
	// StateDir keeps ptt.json (the active group and volume) and the
	// recordings waiting for upload.
	StateDir string
	// RecordingsMaxBytes bounds the recordings waiting on disk.
	RecordingsMaxBytes int64
	// AckTimeout bounds the wait for the broker's acknowledgement of a
	// recording report (0: 10 s).
	AckTimeout time.Duration
	// MaxSpokenText bounds a message or notice read aloud, in characters
	// (0: DefaultMaxSpokenText); a longer one is cut and said to be.
	MaxSpokenText int
	// Notices is how many notices status keeps (0: DefaultNotices).
	Notices int
	// Missed is the catch-up of missed messages (missed.go).
	Missed Missed
	// Emergency is what the SOS key does (emergency.go).
	Emergency EmergencyOptions
	Logger    *slog.Logger
}

// Audio are the voice path's settings.
type Audio struct {
	Encoder         audio.EncoderConfig
	FramesPerPacket int
	// UDPFramesPerPacket is FramesPerPacket for a burst that starts with
	// the UDP path up (0: the same).
	UDPFramesPerPacket int
	Jitter             audio.JitterConfig
	// ToneVolume is the floor tones' loudness, 0–1 of full scale.
	ToneVolume float64
	// Volume is the speaker's level, 1–10, until the user changes it.
	Volume int
}

// Parts are push-to-talk's devices and links, already built.
type Parts struct {
	Link Link
	// Models is nil without a platform: no group, the handset only
	// refuses.
	Models Models
	// Health gets push-to-talk's own conditions (sound card, battery)
	// and drives the health prompts; nil for none.
	Health *health.Tracker
	// OpenSound opens the sound card; while it fails push-to-talk waits
	// and tries again every SoundRetry (the rest of the agent runs on).
	OpenSound func() (Sound, error)
	// Prompter makes the voice prompts' speaker on the Output
	// (audio.NewPrompter); nil: no prompts.
	Prompter func(out *audio.Output) Prompter
	Keys     []board.Key
	LEDs     LEDs
	Battery  board.Battery // nil: no battery
	// Uploader is nil when bursts are not recorded.
	Uploader Uploader
	// Media is the UDP voice path; nil: voice only over Link.
	Media MediaPath
	// VoiceCopy is a second broker connection for a copy of the voice
	// that comes over Link, around talk (voicecopy.go); nil: none.
	// VoiceCopyOffered, if set, says whether the platform takes it now.
	VoiceCopy        VoiceCopy
	VoiceCopyOffered func() bool
	// History reads a group's missed messages and their voice; nil: no
	// catch-up. Roster says who is online; nil: nobody asks.
	History platform.History
	Roster  platform.Roster
	// AnnounceGroup, if set, tells the platform the active group (the
	// device's retained presence); called on every change while the link
	// is up.
	AnnounceGroup func(group int64)
	// Alerts sends the SOS key's emergency messages (nil: the key only
	// says it cannot); Position says where the handset is for them
	// (track.Reporter.Position); Boost sets the emergency's track rate
	// (track.Reporter.Boost; a zero until ends it).
	Alerts   Alerts
	Position func(now time.Time) *wire.EmergencyFix
	Boost    func(period time.Duration, until time.Time)
	// VoiceFlows, if set, hears whether voice flows — a burst heard or
	// sent — so that traffic that can wait does (radio.Radio.SetVoice).
	VoiceFlows func(on bool)
}

// Timings that are not settings.
const (
	// SoundRetry is how often a missing sound card is tried again.
	SoundRetry = 10 * time.Second
	// restartWait is the pause before a failed speaker is restarted.
	restartWait = 5 * time.Second
	// healedAfter is how long a restarted device must run before it
	// counts as working again.
	healedAfter = 10 * time.Second
	// batteryEvery: the kernel does not announce charge changes; a read
	// every 30 s costs nothing.
	batteryEvery = 30 * time.Second
	// stopWait bounds the wait for the microphone to stop at the end of
	// a burst.
	stopWait = 2 * time.Second
)

// PTT is push-to-talk, a Run(ctx) component.
type PTT struct {
	o      Options
	parts  Parts
	log    *slog.Logger
	topics wire.Topics
	say    phrases

	// Inputs of the loop.
	keysC  chan board.KeyEvent
	floorC chan wire.Floor
	texts  chan wire.GroupMessage
	fired  chan timerFire
	later  chan func()   // post: work for the loop from goroutines and timers
	done   chan struct{} // closed when the loop has returned: late timers give up
	wg     sync.WaitGroup

	// Owned by the loop.
	ctx       context.Context
	fs        floor.State
	timers    [4]*time.Timer
	gen       [4]uint64
	active    int64
	voiceSub  string
	speakers  map[int64]string
	lastFloor map[int64]int64 // per group: ts of the last taken/idle applied
	talk      *talkBurst
	stale     *talkBurst // a burst whose microphone did not stop in time
	keyAt     time.Time  // the PTT press that led to the current request
	ttsOn     bool
	model     *platform.Model
	prefs     prefs
	said      said
	battery   board.BatteryStatus
	up        bool   // the broker link
	withdrawn string // why the platform took the handset out of service ("" in service)
	cu        catchUp
	ro        roster
	announced int64 // the active group last told to the platform
	noticePCM []int16
	em        emergency
	vc        voiceCopy
	sosTone   []int16

	// Read by the voice handlers.
	listening atomic.Pointer[listenTo]
	talking   atomic.Bool
	hearing   atomic.Bool // a received burst plays (onVoicePlaying)
	flowMu    sync.Mutex  // orders the calls of Parts.VoiceFlows
	rxBurst   atomic.Uint32
	rxCapture atomic.Int64 // Unix µs when the current received burst's frame 0 was captured

	faults soundFaults
	tune   tuner
	// mediaUp: the UDP path delivers (owned by the loop).
	mediaUp bool

	mu   sync.Mutex
	st   Status
	snd  *sound
	recs *recording.Queue
}

// New prepares push-to-talk; Run starts it. It reads the user's last
// choices (ptt.json) and hands the active group to parts.Models.
func New(o Options, parts Parts) *PTT {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	p := &PTT{o: o, parts: parts, log: o.Logger, topics: wire.Topics{Prefix: o.TopicPrefix, Account: o.Account},
		say: phrasesFor(o.Voice), keysC: make(chan board.KeyEvent, 16), floorC: make(chan wire.Floor, 64),
		texts: make(chan wire.GroupMessage, 16), fired: make(chan timerFire, 8), later: make(chan func(), 32), done: make(chan struct{}),
		speakers: map[int64]string{}, lastFloor: map[int64]int64{}, ttsOn: o.TTS}
	p.faults.report = func(err error) { parts.Health.Set(health.SoundFailing, err) }
	p.tune.cfg = adapt.Config{MaxBitrate: o.Audio.Encoder.Bitrate}
	p.st.Floor = floor.Idle.String()
	p.prefs = loadPrefs(p.prefsPath(), p.log)
	p.loadMarks()
	if p.prefs.Volume < 1 || p.prefs.Volume > 10 {
		p.prefs.Volume = o.Audio.Volume
	}
	p.st.Volume = p.prefs.Volume
	if g := p.prefs.ActiveGroup; g != 0 && parts.Models != nil {
		parts.Models.SetActive(g)
	}
	p.em = loadEmergency(p.emergencyPath(), p.log)
	return p
}

func (p *PTT) prefsPath() string { return filepath.Join(p.o.StateDir, "ptt.json") }

// Run opens the sound card (waiting while it is missing) and runs
// push-to-talk until ctx ends. It returns ctx's error; nothing here stops
// the rest of the agent.
func (p *PTT) Run(ctx context.Context) error {
	p.openRecordings()
	snd, err := p.openSound(ctx)
	if err != nil {
		return err
	}
	defer snd.close()
	p.log.Info("push-to-talk ready", "sound", snd.dev.Name, "recordings", p.recs != nil)
	snd.out.OnVoice = p.onVoicePlaying
	snd.out.SetGain(volumeGain(p.prefs.Volume))
	if len(p.parts.Keys) == 0 {
		p.log.Warn("no PTT key configured (board.keys.ptt or board.bench_socket): the handset only listens")
	}

	ctx, cancel := context.WithCancel(ctx)
	// In this order on the way out: the loop has left the floor, the
	// goroutines stop, then the devices close.
	defer p.wg.Wait()
	defer cancel()
	run := func(f func()) { p.wg.Add(1); go func() { defer p.wg.Done(); f() }() }
	for _, k := range p.parts.Keys {
		run(func() {
			if err := k.Run(ctx, p.keysC); err != nil && ctx.Err() == nil {
				p.log.Error("key source stopped", "err", err)
			}
		})
	}
	run(func() {
		p.keepRunning(ctx, "speaker", snd.out.Run, func(err error) { p.faults.set("speaker", err) })
	})
	if snd.prompter != nil {
		run(func() { p.keepRunning(ctx, "voice prompts", snd.prompter.Run, nil) })
	}
	if up := p.uploader(); up != nil {
		run(func() { p.keepRunning(ctx, "recording upload", up.Run, nil) })
	}
	p.parts.Link.Subscribe(p.topics.FloorDown(), 1, p.onFloor)
	return p.loop(ctx)
}

// loop is the one place where push-to-talk decides and acts.
func (p *PTT) loop(ctx context.Context) error {
	defer close(p.done)
	p.ctx = ctx
	var modelC <-chan struct{}
	if p.parts.Models != nil {
		p.model, modelC = p.parts.Models.Watch()
	}
	p.applyModel()
	up, upC := p.parts.Link.State()
	p.up = up
	p.uplink(up)
	p.follow()
	mediaUp, mediaC := p.mediaState()
	p.followMedia(mediaUp)
	snap, healthC := p.parts.Health.Watch()
	p.onHealth(snap)
	var battC <-chan time.Time
	if p.parts.Battery != nil {
		t := time.NewTicker(batteryEvery)
		defer t.Stop()
		battC = t.C
		p.checkBattery()
	}
	defer p.shutdown()
	p.resumeEmergency()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-p.keysC:
			p.onKey(ev)
		case f := <-p.floorC:
			p.onFloorMsg(f)
		case tf := <-p.fired:
			if tf.gen == p.gen[tf.timer] {
				p.step(floor.Input{Kind: floor.TimerFired, Timer: tf.timer, Req: tf.req})
			}
		case <-p.talk.ended():
			p.micStopped()
		case <-p.stale.ended():
			p.finishTalk(p.stale)
			p.stale = nil
		case <-modelC:
			p.model, modelC = p.parts.Models.Watch()
			p.applyModel()
			p.follow()
		case m := <-p.texts:
			p.onText(m)
		case <-upC:
			up, upC = p.parts.Link.State()
			p.up = up
			p.uplink(up)
			p.follow()
		case f := <-p.later:
			f()
		case <-mediaC:
			mediaUp, mediaC = p.mediaState()
			p.followMedia(mediaUp)
		case <-healthC:
			snap, healthC = p.parts.Health.Watch()
			p.onHealth(snap)
		case <-battC:
			p.checkBattery()
		}
	}
}

// shutdown leaves the floor on the way out: the microphone stops and a
// release goes out while the link is still up.
func (p *PTT) shutdown() {
	if p.fs.Phase != floor.Idle {
		p.step(floor.Input{Kind: floor.Cancel})
	}
	p.stopTalk()
	if p.vc.timer != nil {
		p.vc.timer.Stop()
	}
	for i := range p.timers {
		if p.timers[i] != nil {
			p.timers[i].Stop()
		}
	}
}
