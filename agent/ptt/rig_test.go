package ptt_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/agent/ptt/ptttest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/board/boardtest"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// The unit tests run push-to-talk on fakes — the broker link, the
// platform's model, keys, LEDs, battery, microphone and speaker — inside
// a testing/synctest bubble, whose clock only moves when everything
// waits: seconds of talk time pass in microseconds, and every goroutine
// push-to-talk starts must have ended when a test returns.

const (
	me              = "me"
	patrol, harbour = 7, 8
)

var (
	_ ptt.Link     = (*ptttest.Link)(nil)
	_ ptt.Models   = (*ptttest.Models)(nil)
	_ ptt.Prompter = (*ptttest.Prompter)(nil)
)

// rig is one push-to-talk on fakes.
type rig struct {
	t       *testing.T
	p       *ptt.PTT
	opts    ptt.Options
	link    *ptttest.Link
	models  *ptttest.Models
	health  *health.Tracker
	keys    *boardtest.Key
	tx, rx  *boardtest.LED
	online  *boardtest.LED
	battery *boardtest.Battery
	mic     *audiotest.Capture
	speaker *audiotest.Player
	voice   *ptttest.Prompter
	topics  wire.Topics
	stopped bool
	stop    func()
}

// testModel is a member in two groups, allowed to talk in both.
func testModel() *platform.Model {
	mine := platform.Permissions{Call: true, Speak: true}
	return &platform.Model{Dialect: "corp", Account: me,
		Self:   platform.Self{ID: 1, Account: me, Name: "Me", State: platform.StateEnabled, HasSettings: true, TTS: true},
		Groups: []platform.Group{{ID: patrol, Name: "Patrol", Priority: 1, My: mine}, {ID: harbour, Name: "Harbour", Priority: 2, My: mine}}}
}

// start runs push-to-talk in the bubble; tweak may change its options
// and parts first. It stops when the test ends.
func start(t *testing.T, tweak ...func(*rig, *ptt.Options, *ptt.Parts)) *rig {
	t.Helper()
	r := &rig{t: t, link: ptttest.NewLink(), models: ptttest.NewModels(testModel()), health: health.New(nil),
		keys: boardtest.NewKey(), tx: boardtest.NewLED(), rx: boardtest.NewLED(), online: boardtest.NewLED(),
		mic:     &audiotest.Capture{Signal: sine(10 * time.Second), Pace: audio.FrameDuration},
		speaker: &audiotest.Player{Pace: audio.FrameDuration}, voice: &ptttest.Prompter{},
		topics: wire.Topics{Prefix: "ptt", Account: me}}
	r.opts = ptt.Options{Account: me, TopicPrefix: "ptt",
		Floor: floor.Config{DefaultTalkTime: 60 * time.Second, Warning: 5 * time.Second, ResponseTimeout: 3 * time.Second},
		Audio: ptt.Audio{Encoder: audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5}, FramesPerPacket: 3,
			Jitter: audio.JitterConfig{Target: 5, Max: 15}, ToneVolume: 0.5, Volume: 10},
		TTS: true, Voice: "en", LowBattery: 15, StateDir: t.TempDir(), RecordingsMaxBytes: 1 << 20}
	parts := ptt.Parts{Link: r.link, Models: r.models, Health: r.health,
		OpenSound: func() (ptt.Sound, error) { return ptt.Sound{Capture: r.mic, Play: r.speaker, Name: "fakes"}, nil },
		Prompter:  func(*audio.Output) ptt.Prompter { return r.voice },
		Keys:      []board.Key{r.keys}, LEDs: ptt.LEDs{Transmitting: r.tx, Receiving: r.rx, Online: r.online}}
	for _, f := range tweak {
		f(r, &r.opts, &parts)
	}
	r.p = ptt.New(r.opts, parts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.Run(ctx) }()
	r.stop = func() {
		if r.stopped {
			return
		}
		r.stopped = true
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	}
	t.Cleanup(r.stop)
	synctest.Wait()
	return r
}

// settle lets push-to-talk act on what just happened: the clock only
// moves when everything waits, and ending a burst waits for the
// microphone's next frame (20 ms).
func (r *rig) settle() { time.Sleep(settleTime); synctest.Wait() }

const settleTime = 100 * time.Millisecond

// press, release and tap work the keys as a user does, and let
// push-to-talk act on them.
func (r *rig) press(k board.KeyName)   { r.keys.Press(k); r.settle() }
func (r *rig) release(k board.KeyName) { r.keys.Release(k); r.settle() }
func (r *rig) tap(k board.KeyName)     { r.press(k); r.release(k) }

// arbiter delivers one floor message from the platform; Req 0 means the
// last request's.
func (r *rig) arbiter(f wire.Floor) {
	r.t.Helper()
	if f.Group == 0 {
		f.Group = patrol
	}
	if f.Req == 0 && (f.Type == wire.FloorGranted || f.Type == wire.FloorDeny || f.Type == wire.FloorQueued || f.Type == wire.FloorRevoke) {
		f.Req = r.lastRequest().Req
	}
	if !r.link.Deliver(r.topics.FloorDown(), f.Encode()) {
		r.t.Fatal("push-to-talk has not subscribed to its floor topic")
	}
	r.settle()
}

// sleep lets d pass on the bubble's clock.
func (r *rig) sleep(d time.Duration) { time.Sleep(d); synctest.Wait() }

// floorUp is what push-to-talk sent the arbiter, decoded.
func (r *rig) floorUp() []wire.Floor {
	r.t.Helper()
	var out []wire.Floor
	for _, m := range r.link.Published(r.topics.FloorUp()) {
		f, err := wire.DecodeFloor(m.Payload)
		if err != nil {
			r.t.Fatalf("push-to-talk sent a bad floor message %q: %v", m.Payload, err)
		}
		out = append(out, f)
	}
	return out
}

func (r *rig) lastRequest() wire.Floor {
	r.t.Helper()
	for _, f := range slicesBackward(r.floorUp()) {
		if f.Type == wire.FloorRequest {
			return f
		}
	}
	r.t.Fatal("no floor request sent")
	return wire.Floor{}
}

func slicesBackward(fs []wire.Floor) []wire.Floor {
	out := make([]wire.Floor, len(fs))
	for i, f := range fs {
		out[len(fs)-1-i] = f
	}
	return out
}

// voicePackets decodes what push-to-talk published on group's voice topic.
func (r *rig) voicePackets(group int64) []wire.VoicePacket {
	r.t.Helper()
	var out []wire.VoicePacket
	for _, m := range r.link.Published(r.topics.Voice(group)) {
		var p wire.VoicePacket
		if err := wire.DecodeVoicePacket(m.Payload, &p); err != nil {
			r.t.Fatalf("a bad voice packet: %v", err)
		}
		out = append(out, p)
	}
	return out
}

func (r *rig) status() ptt.Status { return r.p.Status() }

// played reports whether the speaker played pcm (exactly: the tests run
// at volume 10, unity gain, and tones mix over silence unchanged).
func (r *rig) played(pcm []int16) bool {
	out, _ := r.speaker.Played()
	return indexOf(out, pcm) >= 0
}

func indexOf(out, pcm []int16) int {
	for i := 0; i+len(pcm) <= len(out); i++ {
		if out[i] == pcm[0] && equal(out[i:i+len(pcm)], pcm) {
			return i
		}
	}
	return -1
}

func equal(a, b []int16) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func tone(t *testing.T, which audio.Tone) []int16 {
	t.Helper()
	pcm, err := audio.RenderTone(which, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// sine is d of a 440 Hz tone at half scale.
func sine(d time.Duration) []int16 {
	n := int(d / audio.FrameDuration * audio.FrameSamples)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(16000 * math.Sin(2*math.Pi*440*float64(i)/audio.SampleRate))
	}
	return out
}

// prefs reads ptt.json.
func (r *rig) prefs() map[string]int64 {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.opts.StateDir, "ptt.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatal(err)
	}
	return m
}
