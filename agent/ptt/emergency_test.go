package ptt_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/wire"
)

// The SOS key on fakes: the alert through the real outbox (over the fake
// link), the floor of the emergency call, the tone and the hot mic, the
// track rate, the cancel, a restart.

const hotMic = 3 * time.Second

// sos is what the emergency hands the rest of the agent.
type sos struct {
	mu     sync.Mutex
	boosts []boostCall
	box    *alert.Outbox
}

type boostCall struct {
	period time.Duration
	until  time.Time
}

func (s *sos) calls() []boostCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]boostCall(nil), s.boosts...)
}

var here = &wire.EmergencyFix{Latitude: 22.511515, Longitude: 113.155122, Mode: 3, Sats: 9, Created: 1763712000, Age: 3}

// withSOS gives push-to-talk an outbox in its state directory, a position
// and a track rate to boost.
func withSOS(s *sos) func(*rig, *ptt.Options, *ptt.Parts) {
	return func(r *rig, o *ptt.Options, p *ptt.Parts) {
		o.Emergency = ptt.EmergencyOptions{TrackPeriod: 5 * time.Second, TrackFor: 30 * time.Minute, HotMic: hotMic}
		box, err := alert.Open(filepath.Join(o.StateDir, "emergency"), r.link, r.topics, nil)
		if err != nil {
			r.t.Fatal(err)
		}
		s.box = box
		p.Alerts = box
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { box.Run(ctx); close(done) }()
		r.t.Cleanup(func() { cancel(); <-done })
		p.Position = func(time.Time) *wire.EmergencyFix { f := *here; return &f }
		p.Boost = func(period time.Duration, until time.Time) {
			s.mu.Lock()
			s.boosts = append(s.boosts, boostCall{period, until})
			s.mu.Unlock()
		}
	}
}

// emergencies is what push-to-talk sent on its emergency topic.
func (r *rig) emergencies() []wire.Emergency {
	r.t.Helper()
	var out []wire.Emergency
	for _, m := range r.link.Published(r.topics.Emergency()) {
		e, err := wire.DecodeEmergency(m.Payload)
		if err != nil || m.QoS != 1 {
			r.t.Fatalf("a bad emergency message %q (QoS %d): %v", m.Payload, m.QoS, err)
		}
		out = append(out, e)
	}
	return out
}

// talked decodes what push-to-talk sent to group, frame by frame.
func (r *rig) talked(group int64) []int16 {
	r.t.Helper()
	dec, err := audio.NewDecoder()
	if err != nil {
		r.t.Fatal(err)
	}
	var out []int16
	pcm := make([]int16, audio.FrameSamples)
	for _, p := range r.voicePackets(group) {
		for _, f := range p.Frames[:p.NFrames] {
			if err := dec.Decode(f, pcm); err != nil {
				r.t.Fatal(err)
			}
			out = append(out, pcm...)
		}
	}
	return out
}

// A long press raises the alert — sent before the floor request, with
// the group and the position, kept on disk — boosts the track rate and
// takes the floor: the group gets the emergency tone, then the
// microphone for the hot-mic time, without PTT held; then the floor goes
// back, the emergency stands, and PTT works as ever.
func TestSOSRaisesTheAlertAndTakesTheFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sos{}
		r := start(t, withSOS(s))
		pressed := time.Now()
		r.press(board.SOS)

		all := r.link.Published("")
		if len(all) < 2 || all[0].Topic != r.topics.Emergency() || all[1].Topic != r.topics.FloorUp() {
			t.Fatalf("published %d messages; want the alert, then the floor request", len(all))
		}
		es := r.emergencies()
		a := es[0]
		if len(es) != 1 || a.Type != wire.EmergencyAlert || a.Group != patrol || a.TimeMs != pressed.UnixMilli() ||
			a.Fix == nil || *a.Fix != *here || !wire.ValidEmergencyID(a.ID) {
			t.Fatalf("alert %+v", es)
		}
		if req := r.lastRequest(); req.Group != patrol {
			t.Fatalf("request %+v", req)
		}
		if p := s.box.Pending(); len(p) != 1 || p[0].ID != a.ID {
			t.Fatalf("outbox %+v", p)
		}
		if b := s.calls(); len(b) != 1 || b[0].period != 5*time.Second || !b[0].until.Equal(pressed.Add(30*time.Minute)) {
			t.Fatalf("boost %+v", b)
		}
		st := r.status()
		if st.Emergency == nil || st.Emergency.ID != a.ID || st.Emergency.Group != patrol || !st.Emergency.HotMic {
			t.Fatalf("status %+v", st.Emergency)
		}
		if _, err := os.Stat(filepath.Join(r.opts.StateDir, "emergency.json")); err != nil {
			t.Fatalf("the emergency is not kept: %v", err)
		}
		r.arbiter(wire.Floor{Type: wire.FloorGranted, Speaker: me, Emergency: true})
		if s := r.status(); s.Floor != "has-permission" {
			t.Fatalf("granted: %+v", s)
		}
		once := tone(t, audio.ToneEmergency)
		siren := append(append(append([]int16(nil), once...), once...), once...)
		sirenTime := time.Duration(len(siren)) * time.Second / audio.SampleRate
		r.sleep(sirenTime + hotMic - time.Second)
		if s := r.status(); s.Floor != "has-permission" {
			t.Fatalf("the hot mic closed early: %+v", s)
		}
		r.sleep(2 * time.Second)
		if !r.played(siren) {
			t.Error("the handset did not sound the emergency tone")
		}
		if st := r.status(); st.Floor != "pending-release" || st.Emergency == nil || st.Emergency.HotMic {
			t.Fatalf("after the hot mic: floor %s, emergency %+v", st.Floor, st.Emergency)
		}
		sent := r.talked(patrol)
		if got, want := time.Duration(len(sent))*time.Second/audio.SampleRate, sirenTime+hotMic; got < want-100*time.Millisecond || got > want+200*time.Millisecond {
			t.Errorf("sent %v of audio, want the tone and the hot mic, %v", got, want)
		}
		if _, ncc := audiotest.Align(siren, sent[:len(siren)+audio.FrameSamples], audio.FrameSamples); ncc < 0.9 {
			t.Errorf("the burst does not start with the emergency tone: NCC %.3f", ncc)
		}
		mic := sine(2 * time.Second)
		if _, ncc := audiotest.Align(mic[:audio.SampleRate], sent[len(siren)+audio.SampleRate/2:], audio.SampleRate/2); ncc < 0.9 {
			t.Errorf("the microphone does not follow the tone: NCC %.3f", ncc)
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})

		// PTT works as before: the key the alert held is let go.
		reqs := r.status().Requests
		r.press(board.PTT)
		if s := r.status(); s.Requests != reqs+1 || s.Floor != "pending-request" {
			t.Fatalf("PTT after the emergency call: %+v", s)
		}
		r.release(board.PTT)
		if s := r.status(); s.Emergency == nil {
			t.Fatal("the emergency ended by itself")
		}
	})
}

// A second long press cancels: the cancel (same id) goes to the
// platform, the hot mic closes, the track rate goes back, nothing stays
// on disk but the cancel waiting for its acknowledgement.
func TestSOSSecondLongPressCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sos{}
		r := start(t, withSOS(s))
		r.press(board.SOS)
		r.release(board.SOS)
		r.arbiter(wire.Floor{Type: wire.FloorGranted, Speaker: me, Emergency: true})
		r.sleep(time.Second)
		id := r.emergencies()[0].ID
		r.link.Deliver(r.topics.EmergencyCtl(), wire.Emergency{Type: wire.EmergencyAck, ID: id, Of: wire.EmergencyAlert, TimeMs: 1}.Encode())

		r.press(board.SOS)
		es := r.emergencies()
		if c := es[len(es)-1]; c.Type != wire.EmergencyCancel || c.ID != id || c.Fix == nil {
			t.Fatalf("sent %+v, want the cancel of %s", es, id)
		}
		if fs := r.floorUp(); fs[len(fs)-1].Type != wire.FloorRelease {
			t.Fatalf("the hot mic did not close: %+v", fs[len(fs)-1])
		}
		if b := s.calls(); len(b) != 2 || b[1].period != 0 || !b[1].until.IsZero() {
			t.Fatalf("boosts %+v", b)
		}
		if st := r.status(); st.Emergency != nil {
			t.Fatalf("status %+v", st.Emergency)
		}
		if _, err := os.Stat(filepath.Join(r.opts.StateDir, "emergency.json")); !os.IsNotExist(err) {
			t.Fatalf("emergency.json after the cancel: %v", err)
		}
		if p := s.box.Pending(); len(p) != 1 || p[0].Type != wire.EmergencyCancel {
			t.Fatalf("outbox %+v: the acknowledged alert must be gone, the cancel waiting", p)
		}
		// The next long press is a new alert.
		r.press(board.SOS)
		if es := r.emergencies(); es[len(es)-1].Type != wire.EmergencyAlert || es[len(es)-1].ID == id {
			t.Fatalf("a third press: %+v", es[len(es)-1])
		}
	})
}

// PTT pressed during the hot mic takes it over: the burst lasts as long
// as the user holds the key, and ends with its release. A stray release
// (a bench's "ptt up") does not end the hot mic.
func TestSOSPTTTakesOverTheHotMic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withSOS(&sos{}))
		r.press(board.SOS)
		r.arbiter(wire.Floor{Type: wire.FloorGranted, Speaker: me, Emergency: true})
		r.release(board.PTT) // stray
		if s := r.status(); s.Floor != "has-permission" {
			t.Fatalf("a stray release ended the hot mic: %+v", s)
		}
		r.press(board.PTT)
		r.sleep(hotMic + 5*time.Second)
		if s := r.status(); s.Floor != "has-permission" || s.Emergency.HotMic {
			t.Fatalf("the user holds PTT: %+v %+v", s, s.Emergency)
		}
		r.release(board.PTT)
		if s := r.status(); s.Floor != "pending-release" {
			t.Fatalf("after the user let go: %+v", s)
		}
	})
}

// An emergency call the platform refuses (the member is out of the group
// there, say) lets go of the key the alert held: PTT works after it.
func TestSOSCallDeniedLetsGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withSOS(&sos{}))
		r.press(board.SOS)
		r.arbiter(wire.Floor{Type: wire.FloorDeny, Cause: wire.CauseNotMember})
		if s := r.status(); s.Floor != "idle" || s.Emergency == nil || s.Emergency.HotMic {
			t.Fatalf("denied: %+v %+v", s, s.Emergency)
		}
		n := r.status().Requests
		r.press(board.PTT)
		if s := r.status(); s.Requests != n+1 {
			t.Fatalf("PTT after a denied emergency call: %+v", s)
		}
	})
}

// While the alert stands, PTT in its group is not refused for a muted
// group or listen-only rights: the platform grants the emergency call.
// Elsewhere, and once cancelled, the rules are back.
func TestSOSTalksWhereTheMemberMayNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withSOS(&sos{}))
		m := testModel()
		m.Groups[0].Muted, m.Groups[0].My.Speak = true, false
		r.models.Set(m)
		r.settle()
		r.press(board.PTT)
		r.release(board.PTT)
		if s := r.status(); s.LocalDenies != 1 || s.Requests != 0 {
			t.Fatalf("muted, before the emergency: %+v", s)
		}
		r.press(board.SOS)
		if s := r.status(); s.Requests != 1 {
			t.Fatalf("the emergency call was not asked for: %+v", s)
		}
		r.arbiter(wire.Floor{Type: wire.FloorDeny, Cause: wire.CauseTaken})
		r.press(board.PTT)
		r.release(board.PTT)
		if s := r.status(); s.LocalDenies != 1 || s.Requests != 2 {
			t.Fatalf("PTT during the emergency: %+v", s)
		}
		r.press(board.SOS) // cancel
		r.press(board.PTT)
		r.release(board.PTT)
		if s := r.status(); s.LocalDenies != 2 {
			t.Fatalf("after the cancel: %+v", s)
		}
	})
}

// The alert stands across a restart: the track rate for the rest of its
// time, the same alert to cancel; the outbox still has it.
func TestSOSStandsAcrossARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s1 := &sos{}
		r := start(t, func(r *rig, o *ptt.Options, p *ptt.Parts) { o.StateDir = dir }, withSOS(s1))
		r.link.SetUp(false) // pressed in a dead zone
		r.press(board.SOS)
		raised := r.status().Emergency
		r.sleep(10 * time.Minute)
		r.stop()

		s2 := &sos{}
		r2 := start(t, func(r *rig, o *ptt.Options, p *ptt.Parts) { o.StateDir = dir }, withSOS(s2))
		st := r2.status().Emergency
		if st == nil || st.ID != raised.ID || st.Group != patrol || !st.Since.Equal(raised.Since) {
			t.Fatalf("after the restart: %+v, want %+v", st, raised)
		}
		if b := s2.calls(); len(b) != 1 || b[0].period != 5*time.Second || !b[0].until.Equal(raised.Since.Add(30*time.Minute)) {
			t.Fatalf("boost after the restart %+v", b)
		}
		if p := s2.box.Pending(); len(p) != 1 || p[0].ID != raised.ID || p[0].Type != wire.EmergencyAlert {
			t.Fatalf("outbox after the restart %+v", p)
		}
		r2.press(board.SOS)
		if es := r2.emergencies(); len(es) == 0 || es[len(es)-1].Type != wire.EmergencyCancel || es[len(es)-1].ID != raised.ID {
			t.Fatalf("the cancel after the restart: %+v", es)
		}
	})
}

// A listener learns that the active group's speaker talks in an
// emergency.
func TestEmergencyCallHeard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "c", Emergency: true, TimeMs: time.Now().UnixMilli()})
		if s := r.status(); !s.EmergencyCall || s.EmergencyCalls != 1 || s.Speaker != "c" {
			t.Fatalf("taken in an emergency: %+v", s)
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		if s := r.status(); s.EmergencyCall || s.EmergencyCalls != 1 {
			t.Fatalf("idle: %+v", s)
		}
		// Without an outbox the key says it cannot, and sends nothing.
		r.press(board.SOS)
		r.sleep(time.Second)
		if len(r.emergencies()) != 0 || len(r.floorUp()) != 0 || !r.played(tone(t, audio.ToneDeny)) {
			t.Fatal("SOS without an outbox")
		}
	})
}
