package ptt_test

import (
	"math"
	"path/filepath"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// burst encodes d of a sine as the voice packets another handset sends,
// every frame stamped captured now.
func burst(t *testing.T, id uint32, d time.Duration) [][]byte {
	t.Helper()
	return burstCaptured(t, id, d, func(int) time.Time { return time.Now() })
}

// burstCaptured is burst with frame i captured at captured(i).
func burstCaptured(t *testing.T, id uint32, d time.Duration, captured func(frame int) time.Time) [][]byte {
	t.Helper()
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := audio.NewPacketizer(enc, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Begin(id); err != nil {
		t.Fatal(err)
	}
	pcm := sine(d)
	var out [][]byte
	for i := 0; i+audio.FrameSamples <= len(pcm); i += audio.FrameSamples {
		p, err := pk.Add(pcm[i:i+audio.FrameSamples], captured(i/audio.FrameSamples))
		if err != nil {
			t.Fatal(err)
		}
		if p != nil {
			out = append(out, append([]byte(nil), p...))
		}
	}
	return append(out, append([]byte(nil), pk.End()...))
}

// loud counts the samples of pcm above a quarter of full scale.
func loud(pcm []int16) int {
	n := 0
	for _, v := range pcm {
		if v > 8000 || v < -8000 {
			n++
		}
	}
	return n
}

// Voice of the active group reaches the speaker, whichever transport
// brings it: the broker's topic, or HearVoice (a second transport). The
// receiving LED follows the burst.
func TestReceivedVoiceIsPlayed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deliver func(r *rig, pkt []byte)
	}{
		{"broker", func(r *rig, pkt []byte) { r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), pkt) }},
		{"HearVoice", func(r *rig, pkt []byte) { r.p.HearVoice(patrol, "other", pkt) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := start(t)
				r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
				pkts := burst(t, 0x5eed, time.Second)
				rxOn := false
				for _, pkt := range pkts {
					tc.deliver(r, pkt)
					time.Sleep(3 * audio.FrameDuration)
					rxOn = rxOn || r.rx.State().On
				}
				r.sleep(time.Second)
				out, _ := r.speaker.Played()
				if n := loud(out); n < audio.SampleRate/2 {
					t.Errorf("the speaker played %d loud samples of a 1 s sine", n)
				}
				s := r.status()
				if s.VoiceReceived != uint64(len(pkts)) || s.BurstsHeard != 1 || s.Speaker != "other" || s.Receiving {
					t.Errorf("status %+v", s)
				}
				if !rxOn || r.rx.State().On {
					t.Errorf("receiving LED: on during the burst %v, now %+v", rxOn, r.rx.State())
				}
			})
		})
	}
}

// What is not for this handset is counted and not played: another
// group's voice, its own voice, voice while it talks.
func TestVoiceNotForUs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		pkts := burst(t, 0xbeef, 300*time.Millisecond)
		r.p.HearVoice(harbour, "other", pkts[0])
		r.p.HearVoice(patrol, me, pkts[0])
		r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), []byte("not a voice packet"))
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.p.HearVoice(patrol, "other", pkts[1])
		r.release(board.PTT)
		if s := r.status(); s.VoiceIgnored != 3 || s.VoiceBad != 1 || s.VoiceReceived != 0 {
			t.Errorf("status %+v", s)
		}
		if ls := r.rx.State(); ls.On {
			t.Error("the receiving LED lit")
		}
	})
}

// The group keys move to the next group: its voice topic replaces the
// old one, its name is spoken, the choice is kept across reboots.
func TestGroupSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		subscribed := func() map[string]bool {
			m := map[string]bool{}
			for _, f := range r.link.Subscribed() {
				m[f] = true
			}
			return m
		}
		if s := subscribed(); !s[wire.GroupVoice("ptt", patrol, "+")] || s[wire.GroupVoice("ptt", harbour, "+")] {
			t.Fatalf("subscribed to %v at start", s)
		}
		r.tap(board.GroupUp)
		if s := subscribed(); s[wire.GroupVoice("ptt", patrol, "+")] || !s[wire.GroupVoice("ptt", harbour, "+")] {
			t.Errorf("subscribed to %v after the switch", s)
		}
		if s := r.status(); s.ActiveGroup != harbour || s.ActiveGroupName != "Harbour" || r.models.Active() != harbour {
			t.Errorf("status %+v, the sync's active group %d", s, r.models.Active())
		}
		if said := r.voice.Said(); len(said) != 1 || said[0] != "Harbour" {
			t.Errorf("said %q", said)
		}
		if p := r.prefs(); p["active_group"] != harbour {
			t.Errorf("ptt.json %v", p)
		}
		r.press(board.PTT)
		if req := r.lastRequest(); req.Group != harbour {
			t.Errorf("a press after the switch asks for group %d", req.Group)
		}
		r.release(board.PTT)
		r.tap(board.GroupDown)
		if s := r.status(); s.ActiveGroup != patrol {
			t.Errorf("group down: active %d", s.ActiveGroup)
		}
	})
}

// A group key pressed right after the platform added a group, before
// the sync's notification reached the loop, moves by the new list (a
// CI run once found the old one used: the key "switched" to where the
// handset already was).
func TestGroupKeyUsesTheLatestModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		const ferry = 9
		m := testModel()
		m.Groups = append(m.Groups, platform.Group{ID: ferry, Name: "Ferry", Priority: 3, My: m.Groups[0].My})
		announce := r.models.SetUnannounced(m)
		defer announce()
		r.tap(board.GroupDown) // from Patrol, the first, back round to the last
		if s := r.status(); s.ActiveGroup != ferry || s.ActiveGroupName != "Ferry" {
			t.Errorf("group down with Ferry just added: active %d %q", s.ActiveGroup, s.ActiveGroupName)
		}
		if said := r.voice.Said(); len(said) != 1 || said[0] != "Ferry" {
			t.Errorf("said %q", said)
		}
	})
}

// The active group and the volume survive a restart.
func TestPrefsAreKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		keep := func(_ *rig, o *ptt.Options, _ *ptt.Parts) { o.StateDir = dir }
		r := start(t, keep)
		r.tap(board.GroupUp)
		r.tap(board.VolumeDown)
		r.stop()
		r2 := start(t, keep)
		if s := r2.status(); s.ActiveGroup != harbour || s.Volume != 9 || r2.models.Active() != harbour {
			t.Errorf("after a restart: %+v", s)
		}
	})
}

// A FIFO (or anything but a regular file) where ptt.json or
// messages.json should be does not hang the start: it is ignored like a
// damaged file (issue 13 item 10).
func TestStateFilesThatAreNotFilesDoNotHangTheStart(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ptt.json", "messages.json"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		synctest.Test(t, func(t *testing.T) {
			r := start(t, func(_ *rig, o *ptt.Options, _ *ptt.Parts) { o.StateDir = dir })
			if s := r.status(); s.Volume < 1 {
				t.Errorf("status %+v", s)
			}
			r.stop()
		})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("push-to-talk hung on a FIFO in its state directory")
	}
}

// The volume keys step the level 3 dB at a time, tick at the new level
// and stop at the ends.
func TestVolumeKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		tick := tone(t, audio.ToneVolume)[:800] // the 50 ms beep without its padding
		r.tap(board.VolumeUp)                   // already at 10: stays, ticks at full level
		r.sleep(time.Second)
		out, _ := r.speaker.Played()
		at10 := indexOf(out, tick)
		if s := r.status(); s.Volume != 10 || at10 < 0 {
			t.Fatalf("volume %d, the tick at full level at %d", s.Volume, at10)
		}
		r.tap(board.VolumeDown)
		r.sleep(time.Second)
		out, _ = r.speaker.Played()
		at := len(out) - 1
		for at > 0 && out[at] == 0 {
			at--
		}
		got := rms(out[at-len(tick)+1 : at+1])
		if want := rms(tick) * 0.708; got < want*0.95 || got > want*1.05 {
			t.Errorf("the tick at level 9: rms %.0f, want %.0f (−3 dB)", got, want)
		}
		if s, p := r.status(), r.prefs(); s.Volume != 9 || p["volume"] != 9 {
			t.Errorf("volume %d, ptt.json %v", s.Volume, p)
		}
	})
}

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}
