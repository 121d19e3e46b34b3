package ptt_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/wire"
)

// A press asks the platform for the floor of the active group, once.
func TestPressRequestsTheFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		r.press(board.PTT)
		r.press(board.PTT) // a bounce or a repeat: one request is enough
		fs := r.floorUp()
		if len(fs) != 1 || fs[0].Type != wire.FloorRequest || fs[0].Group != patrol || fs[0].Req == 0 {
			t.Fatalf("sent %+v, want one request for group %d", fs, patrol)
		}
		if s := r.status(); s.Floor != "pending-request" || s.Requests != 1 {
			t.Errorf("status %+v", s)
		}
	})
}

// The grant opens the microphone: the grant tone, the transmitting LED,
// voice packets of one burst on the group's topic. The release sends the
// burst's last packet before the floor release.
func TestGrantTalksReleaseEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		if s := r.status(); s.Floor != "has-permission" || s.Grants != 1 || s.TalkLimitS != 60 {
			t.Fatalf("after the grant: %+v", s)
		}
		if !r.tx.State().On {
			t.Error("the transmitting LED is off while talking")
		}
		r.sleep(time.Second)
		ps := r.voicePackets(patrol)
		if len(ps) < 14 || len(ps) > 18 { // 50 frames in a second, 3 a packet
			t.Fatalf("%d packets in a second of talk, want ~16", len(ps))
		}
		for i, p := range ps {
			if p.Burst != ps[0].Burst || p.Seq != uint32(3*i) || p.Last {
				t.Fatalf("packet %d: burst %x seq %d last %v", i, p.Burst, p.Seq, p.Last)
			}
		}
		r.release(board.PTT)
		r.sleep(time.Second) // the grant tone plays
		all := r.link.Published("")
		lastVoice, release := -1, -1
		for i, m := range all {
			switch m.Topic {
			case r.topics.Voice(patrol):
				lastVoice = i
			case r.topics.FloorUp():
				if f, _ := wire.DecodeFloor(m.Payload); f.Type == wire.FloorRelease {
					release = i
				}
			}
		}
		ps = r.voicePackets(patrol)
		if !ps[len(ps)-1].Last || release < 0 || lastVoice > release {
			t.Fatalf("last packet flagged %v at %d, release at %d: the burst must end before the floor is released",
				ps[len(ps)-1].Last, lastVoice, release)
		}
		if s := r.status(); s.Floor != "pending-release" || s.BurstsSent != 1 || s.PacketsSent != uint64(len(ps)) || r.tx.State().On {
			t.Errorf("after the release: %+v, LED %+v", s, r.tx.State())
		}
		if !r.played(tone(t, audio.ToneGrant)) {
			t.Error("no grant tone")
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		if s := r.status(); s.Floor != "idle" {
			t.Errorf("after idle: %s", s.Floor)
		}
	})
}

// The platform's answers each sound their tone and are counted.
func TestFloorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []wire.Floor
		tone   audio.Tone
		floor  string
		count  func(s ptt.Status) uint64
	}{
		{"denied", []wire.Floor{{Type: wire.FloorDeny, Cause: wire.CauseTaken}}, audio.ToneDeny, "idle",
			func(s ptt.Status) uint64 { return s.Denies }},
		{"queued", []wire.Floor{{Type: wire.FloorQueued, Position: 2}}, audio.ToneQueued, "queued",
			func(s ptt.Status) uint64 { return s.Queued }},
		{"revoked", []wire.Floor{{Type: wire.FloorGranted}, {Type: wire.FloorRevoke, Cause: wire.CausePreempted}}, audio.ToneRevoke,
			"pending-release", func(s ptt.Status) uint64 { return s.Revokes }},
		{"no answer", nil, audio.ToneDeny, "idle", func(s ptt.Status) uint64 { return s.Denies }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := start(t)
				r.press(board.PTT)
				for _, f := range tc.answer {
					r.arbiter(f)
				}
				if tc.answer == nil {
					r.sleep(r.opts.Floor.ResponseTimeout)
				}
				r.sleep(time.Second) // the tone plays
				s := r.status()
				if !r.played(tone(t, tc.tone)) || s.Floor != tc.floor || tc.count(s) != 1 {
					t.Errorf("tone played %v, status %+v; want floor %s", r.played(tone(t, tc.tone)), s, tc.floor)
				}
			})
		})
	}
}

// The talk-time limit: the warning tone Warning before it, then the
// handset ends the burst and releases the floor by itself.
func TestTalkTimeWarningThenRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, func(_ *rig, o *ptt.Options, _ *ptt.Parts) {
			o.Floor.DefaultTalkTime, o.Floor.Warning = 3*time.Second, time.Second
		})
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		released := func() bool {
			for _, f := range r.floorUp() {
				if f.Type == wire.FloorRelease {
					return true
				}
			}
			return false
		}
		warning := tone(t, audio.ToneWarning)
		// The grant came settleTime ago.
		r.sleep(1800 * time.Millisecond)
		if r.played(warning) || released() {
			t.Fatal("warned or released before the warning time")
		}
		r.sleep(700 * time.Millisecond) // the warning sounds at 2 s and takes its time
		if !r.played(warning) || released() {
			t.Fatalf("2.6 s into 3: warning played %v, released %v", r.played(warning), released())
		}
		r.sleep(600 * time.Millisecond)
		if !released() || r.status().LastCause != wire.CauseTalkTime || r.status().BurstsSent != 1 {
			t.Fatalf("3.2 s into 3: released %v, status %+v", released(), r.status())
		}
		if ps := r.voicePackets(patrol); !ps[len(ps)-1].Last {
			t.Error("the burst was not ended")
		}
	})
}

// The platform may take the right to talk mid-burst (a paused member, a
// muted group): the handset leaves the floor at once with the revoke
// tone, and a press is then refused on the handset without asking.
func TestModelChangeTakesTheRightToTalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(500 * time.Millisecond)
		m := testModel()
		m.Groups[0].My.Speak, m.Groups[0].Muted = false, true
		r.models.Set(m)
		r.sleep(time.Second)
		fs := r.floorUp()
		if last := fs[len(fs)-1]; last.Type != wire.FloorRelease || last.Group != patrol {
			t.Fatalf("sent %+v, want a release last", fs)
		}
		if s := r.status(); s.Floor != "idle" || s.BurstsSent != 1 || !r.played(tone(t, audio.ToneRevoke)) {
			t.Fatalf("after the change: %+v", s)
		}
		r.release(board.PTT)
		n := len(r.floorUp())
		r.press(board.PTT)
		if s := r.status(); len(r.floorUp()) != n || s.LocalDenies != 1 || s.LastCause != wire.CauseMuted {
			t.Errorf("a press in a muted group: sent %d more, status %+v", len(r.floorUp())-n, s)
		}
	})
}

// Losing the link while talking ends the burst and the floor (it cannot
// be held without a link), with the deny tone; the online LED blinks
// until the link is back.
func TestUplinkLossLeavesTheFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		if st := r.online.State(); !st.On || st.Blink {
			t.Fatalf("online LED %+v with the link up", st)
		}
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(300 * time.Millisecond)
		r.link.SetUp(false)
		r.sleep(time.Second)
		if s := r.status(); s.Floor != "idle" || s.BurstsSent != 1 || r.tx.State().On || !r.played(tone(t, audio.ToneDeny)) {
			t.Fatalf("after the loss: %+v", s)
		}
		if st := r.online.State(); !st.Blink {
			t.Errorf("online LED %+v without a link, want blinking", st)
		}
		r.link.SetUp(true)
		r.settle()
		if st := r.online.State(); !st.On || st.Blink {
			t.Errorf("online LED %+v with the link back", st)
		}
	})
}

// A microphone that fails mid-burst gives the floor back, and health
// says the sound card is failing.
func TestMicrophoneFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, func(r *rig, _ *ptt.Options, _ *ptt.Parts) {
			r.mic.Signal, r.mic.Err = sine(500*time.Millisecond), errMic
		})
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(time.Second)
		fs := r.floorUp()
		if last := fs[len(fs)-1]; last.Type != wire.FloorRelease {
			t.Fatalf("sent %+v, want the floor released", fs)
		}
		if s := r.status(); s.Floor != "idle" || s.BurstsSent != 1 {
			t.Errorf("status %+v", s)
		}
		if ws := r.health.Warnings(); len(ws) != 1 || ws[0].Name != "sound-card-failing" {
			t.Errorf("warnings %+v", ws)
		}
	})
}

var errMic = errors.New("fake microphone: unplugged")
