package agent_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
)

// A handset user's whole push-to-talk: A holds PTT and says a sentence
// (espeak-ng speech in its microphone's file), B hears the same sentence
// on its speaker; the burst is on the platform as a recording, visible
// through both seeds' query APIs, and arrives there even when the
// platform is down for a while. Then text messages and voice prompts.
func TestPushToTalkVoiceAndRecordings(t *testing.T) {
	speech := audiotest.Speech(t)
	if err := cards["a"].SetInput(speech, time.Minute); err != nil {
		t.Fatal(err)
	}
	w := startPTTWorld(t,
		handsetSpec{name: "a", priority: 5},
		handsetSpec{name: "b", priority: 5, tts: true, gnss: true})
	a, b := w.hs["a"], w.hs["b"]

	t.Run("B hears what A says", func(t *testing.T) {
		start := time.Now()
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		granted := time.Now()
		wait.For(t, 3*time.Second, "B told A talks", func() bool { return b.status().Speaker == "a" })
		// Hold for the sentence, then let go.
		time.Sleep(time.Duration(len(speech))*time.Second/audio.SampleRate + 500*time.Millisecond)
		a.release()
		a.waitFloor("idle", 5*time.Second)
		b.waitQuiet(10 * time.Second)
		t.Logf("press → grant %v", granted.Sub(start))

		out := b.output()
		// Frame by frame, as a listener hears it: the adaptive playout may
		// skip a pause, leave a pitch period out or play a backlog a
		// little faster, which changes the timing without losing a word
		// (the spectra along a time warp; a waveform's correlation
		// would take a shortened vowel for loss).
		heard := audiotest.Intelligible(speech, out, audiotest.HeardThreshold)
		t.Logf("B played %.1f s; %.0f %% of A's voiced frames heard", float64(len(out))/audio.SampleRate, 100*heard)
		if heard < 0.95 {
			t.Errorf("B's speaker: %.0f %% of A's speech heard, want ≥ 95 %%", 100*heard)
		}
		as, bs := a.status(), b.status()
		if as.BurstsSent != 1 || as.Grants != 1 || as.LastAccessMs <= 0 {
			t.Errorf("A: %+v", as)
		}
		if bs.BurstsHeard != 1 || bs.VoiceReceived == 0 || bs.LastMouthToEarMs <= 0 || bs.Jitter == nil || bs.Jitter.Frames == 0 {
			t.Errorf("B: %+v jitter %+v", bs, bs.Jitter)
		}
		t.Logf("A: access %.0f ms, %d packets; B: mouth-to-ear %.0f ms, jitter %+v", as.LastAccessMs, as.PacketsSent,
			bs.LastMouthToEarMs, *bs.Jitter)
	})

	t.Run("the burst is on the platform as a recording", func(t *testing.T) {
		wait.For(t, 15*time.Second, "the audio record", func() bool { return len(w.sim.AudioRecords()) == 1 })
		rec := w.sim.AudioRecords()[0]
		if rec.Account != "a" || rec.UserID != a.member.ID || rec.GroupName != "Patrol" || rec.DurationMs < 4000 || rec.DurationMs > 8000 {
			t.Errorf("audio record %+v", rec)
		}
		// corp: message-get-group-history-message, a type 3 voice message.
		var hist struct {
			Messages []struct {
				UserID  int64 `json:"user_id"`
				Type    int   `json:"type"`
				Content struct {
					URL      string `json:"url"`
					Duration int    `json:"duration"`
				} `json:"content"`
			} `json:"messages"`
		}
		w.op.Corp("message-get-group-history-message", map[string]any{"group_id": w.group.ID, "msg_id": 0, "msg_count": 20}, &hist)
		if len(hist.Messages) != 1 || hist.Messages[0].Type != 3 || hist.Messages[0].UserID != a.member.ID ||
			hist.Messages[0].Content.URL != rec.FileURL || hist.Messages[0].Content.Duration != int((rec.DurationMs+999)/1000) {
			t.Errorf("history %+v, record %+v", hist, rec)
		}
		// wapi: ptt/audioRecord.
		tok := wapiToken(t, w.sim, "admin", "admin")
		raw := w.sim.Raw(t, "GET", "/wapi/ptt/audioRecord?account=a&size=10&current=1", http.Header{"Token": {tok}}, nil)
		var env struct {
			Status int `json:"status"`
			Data   struct {
				Records []pttsim.AudioRecord `json:"records"`
			} `json:"data"`
		}
		if json.Unmarshal(raw, &env) != nil || env.Status != 200 || len(env.Data.Records) != 1 || env.Data.Records[0] != rec {
			t.Errorf("wapi audioRecord: %s", raw)
		}
		// The file is standard Ogg Opus and holds the sentence.
		file := filepath.Join(t.TempDir(), "burst.opus")
		os.WriteFile(file, httpGet(t, rec.FileURL), 0o644)
		if out, err := exec.Command("opusinfo", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "Opus") {
			t.Errorf("opusinfo: %v\n%s", err, out)
		}
		wav := filepath.Join(t.TempDir(), "burst.wav")
		if out, err := exec.Command("opusdec", "--quiet", "--rate", "16000", file, wav).CombinedOutput(); err != nil {
			t.Fatalf("opusdec: %v\n%s", err, out)
		}
		_, dec, err := audiotest.ReadWAV(wav)
		if err != nil {
			t.Fatal(err)
		}
		if _, ncc := find(speech, dec, 0); ncc < 0.9 {
			t.Errorf("the recording: NCC %.3f with the speech, want ≥ 0.9", ncc)
		}
		// pttsim has the report once it arrived; A counts it once the
		// broker acknowledged it, a moment later.
		wait.For(t, 5*time.Second, "A's report acknowledged", func() bool {
			rs := a.status().Recordings
			return rs != nil && rs.Reported == 1
		})
		if rs := a.status().Recordings; rs.Queued != 0 {
			t.Errorf("A's recordings %+v", rs)
		}
	})

	t.Run("a recording waits out a platform outage", func(t *testing.T) {
		w.web.Cut()
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		time.Sleep(time.Second)
		a.release()
		a.waitFloor("idle", 5*time.Second)
		wait.For(t, 15*time.Second, "a failed upload", func() bool {
			rs := a.status().Recordings
			return rs.Queued == 1 && rs.Failures > 0
		})
		if n := len(w.sim.AudioRecords()); n != 1 {
			t.Fatalf("%d records during the outage", n)
		}
		time.Sleep(2 * time.Second)
		w.web.Restore()
		wait.For(t, 30*time.Second, "the upload after the outage", func() bool { return len(w.sim.AudioRecords()) == 2 })
		wait.For(t, 10*time.Second, "A's second report acknowledged", func() bool { return a.status().Recordings.Reported == 2 })
		if rs := a.status().Recordings; rs.Queued != 0 {
			t.Errorf("A's recordings %+v", rs)
		}
		entries, _ := os.ReadDir(filepath.Join(a.dir, "state", "recordings"))
		if len(entries) != 0 {
			t.Errorf("recordings left on disk: %v", entries)
		}
	})

	t.Run("a text message is read out", func(t *testing.T) {
		b.waitQuiet(5 * time.Second)
		from := len(b.output())
		w.op.Corp("message-send-group-message", map[string]any{"group_id": w.group.ID, "content": "Gate three is open"}, nil)
		wait.For(t, 5*time.Second, "the message", func() bool { return b.status().TextMessages == 1 })
		b.waitQuiet(10 * time.Second)
		want := renderPrompt(t, "Message from Operator. Gate three is open")
		if _, ncc := find(want, b.output(), from); ncc < 0.9 {
			t.Errorf("the message on B's speaker: NCC %.3f, want ≥ 0.9", ncc)
		}
		if a.status().TextMessages != 1 || a.status().Prompts != 0 {
			t.Errorf("A (tts off): %+v", a.status())
		}
	})

	t.Run("received voice wins over a prompt, which then resumes", func(t *testing.T) {
		from := len(b.output())
		long := "Message from Operator. All units, the road to the harbour is closed until further notice, use the ring road instead."
		w.op.Corp("message-send-group-message", map[string]any{"group_id": w.group.ID, "content": long[len("Message from Operator. "):]}, nil)
		wait.For(t, 5*time.Second, "the prompt playing", func() bool { return len(b.output()) > from+audio.SampleRate/2 })
		// A talks over it: silence then (the speech file is past its end).
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		time.Sleep(1500 * time.Millisecond)
		a.release()
		b.waitQuiet(20 * time.Second)
		out := b.output()
		prompt := renderPrompt(t, long)
		head, tail := prompt[:audio.SampleRate/2], prompt[len(prompt)-audio.SampleRate:]
		hAt, hNCC := find(head, out, from)
		tAt, tNCC := find(tail, out, from)
		t.Logf("prompt head at %d (NCC %.3f), tail at %d (NCC %.3f); prompt %d samples, played %d", hAt, hNCC, tAt, tNCC, len(prompt), len(out)-from)
		if hNCC < 0.9 || tNCC < 0.9 {
			t.Errorf("the prompt was not played whole: head NCC %.3f, tail NCC %.3f", hNCC, tNCC)
		}
		// The burst interrupted it: the tail comes later than an
		// uninterrupted prompt's would.
		if gap := tAt - hAt - (len(prompt) - len(tail)); gap < audio.SampleRate {
			t.Errorf("the prompt went on under the voice (only %d samples pause)", gap)
		}
	})

	t.Run("switching groups speaks the group's name and is kept", func(t *testing.T) {
		g2, err := w.sim.CreateGroup(pttsim.GroupSpec{Name: "Harbour", Creator: w.admin.ID, Members: []int64{w.admin.ID, b.member.ID}})
		if err != nil {
			t.Fatal(err)
		}
		wait.For(t, 5*time.Second, "B in the second group", func() bool {
			m := b.a.Model()
			return m != nil && m.Group(g2.ID) != nil
		})
		b.waitQuiet(5 * time.Second)
		from := len(b.output())
		b.tap("group_up")
		wait.For(t, 5*time.Second, "B on Harbour", func() bool { return b.status().ActiveGroup == g2.ID })
		b.waitQuiet(10 * time.Second)
		// With who else is online in it (the operator is no device).
		if _, ncc := find(renderPrompt(t, "Harbour, nobody else online"), b.output(), from); ncc < 0.9 {
			t.Errorf("the group name on B's speaker: NCC %.3f", ncc)
		}
		raw, _ := os.ReadFile(filepath.Join(b.dir, "state", "ptt.json"))
		if !strings.Contains(string(raw), `"active_group":`) || !strings.Contains(string(raw), itoa(g2.ID)) {
			t.Errorf("ptt.json: %s", raw)
		}
		// A's voice in Patrol no longer reaches B.
		n := b.status().VoiceReceived
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		time.Sleep(500 * time.Millisecond)
		a.release()
		a.waitFloor("idle", 5*time.Second)
		if got := b.status().VoiceReceived; got != n {
			t.Errorf("B received %d packets of another group", got-n)
		}
	})

	t.Run("GPS fix and the network, acquired and lost, are announced", func(t *testing.T) {
		nmea := gpstest.DriveLog(t)
		b.waitQuiet(5 * time.Second)
		from := len(b.output())
		ctx, stopGNSS := context.WithCancel(context.Background())
		defer stopGNSS()
		go (&gpssim.Player{Speed: 4, Loop: true, Retime: true}).Play(ctx, b.gnss, nmea)
		prompts := b.status().Prompts
		wait.For(t, 20*time.Second, "the fix announced", func() bool { return b.status().Prompts > prompts })
		stopGNSS() // the receiver goes quiet: no more fixes
		prompts = b.status().Prompts
		wait.For(t, 20*time.Second, "the loss announced", func() bool { return b.status().Prompts > prompts })
		b.waitQuiet(10 * time.Second)
		for _, text := range []string{"GPS fix acquired", "GPS fix lost"} {
			if _, ncc := find(renderPrompt(t, text), b.output(), from); ncc < 0.9 {
				t.Errorf("%q on B's speaker: NCC %.3f", text, ncc)
			}
		}

		from = len(b.output())
		prompts = b.status().Prompts
		w.broker.Stop()
		wait.For(t, 15*time.Second, "the uplink loss announced", func() bool { return b.status().Prompts > prompts })
		prompts = b.status().Prompts
		w.broker.Start()
		wait.For(t, 15*time.Second, "the uplink announced back", func() bool { return b.status().Prompts > prompts })
		b.waitQuiet(10 * time.Second)
		for _, text := range []string{"Network lost", "Network restored"} {
			if _, ncc := find(renderPrompt(t, text), b.output(), from); ncc < 0.9 {
				t.Errorf("%q on B's speaker: NCC %.3f", text, ncc)
			}
		}
	})
	t.Run("the volume keys change what B hears, and B keeps the level", func(t *testing.T) {
		// The previous subtest restarted the broker: the handsets and the
		// platform must all be back (a request sent while the platform is
		// still reconnecting gets no answer: the handset's "timeout" deny).
		wait.For(t, 15*time.Second, "both uplinks and the platform back", func() bool {
			return a.a.Status().Uplink.Connected && b.a.Status().Uplink.Connected && w.sim.Connected()
		})
		if v := b.status().Volume; v != 8 {
			t.Fatalf("B starts at volume %d, want the default 8", v)
		}
		// B switched to Harbour above; back to Patrol, where A talks.
		b.tap("group_down")
		wait.For(t, 5*time.Second, "B back on Patrol", func() bool { return b.status().ActiveGroup == w.group.ID })
		// What A said in Patrol meanwhile is caught up first (messages.missed).
		wait.For(t, 10*time.Second, "B's catch-up of A's burst", func() bool { return b.status().Missed.Voice == 1 })
		b.waitQuiet(20 * time.Second)
		// Each press ticks at the new level: level 7, then 6, one step
		// (3 dB) quieter. The level scales whole frames, so voice and
		// prompts follow it the same way (audio's TestOutputGain).
		tick, err := audio.RenderTone(audio.ToneVolume, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		beep := tick[:800] // the 50 ms tick without its padding
		// The second press comes once the first tick is heard, as a
		// user's would (two presses before the card starts would tick
		// twice at the new level); each tick is looked for in the speaker
		// file until it is there: a quiet spell is no proof that the card
		// has written everything (a loaded CI machine once read the file
		// between the two ticks).
		var out []int16
		heard := func(from int) (at int) {
			var ncc float64
			wait.For(t, 10*time.Second, "a tick on B's speaker", func() bool {
				out = b.output()
				at, ncc = find(beep, out, from)
				return ncc >= 0.9 && at+len(beep) <= len(out)
			})
			return at
		}
		before := len(b.output())
		b.tap("volume_down")
		at7 := heard(before)
		b.tap("volume_down")
		at6 := heard(at7 + len(beep))
		wait.For(t, 5*time.Second, "volume 6", func() bool { return b.status().Volume == 6 })
		ratio := rms(out[at6:at6+len(beep)]) / rms(out[at7:at7+len(beep)])
		if want := math.Pow(10, -3.0/20); ratio < want*0.95 || ratio > want*1.05 {
			t.Errorf("level 6 against level 7: amplitude ratio %.3f, want %.3f (−3 dB)", ratio, want)
		}
		if got, want := rms(out[at7:at7+len(beep)])/rms(beep), math.Pow(10, -9.0/20); got < want*0.95 || got > want*1.05 {
			t.Errorf("level 7 plays at %.3f of the tone's level, want %.3f (−9 dB)", got, want)
		}
		raw, _ := os.ReadFile(filepath.Join(b.dir, "state", "ptt.json"))
		if !strings.Contains(string(raw), `"volume":6`) {
			t.Errorf("the level is not kept for the next start: ptt.json %s", raw)
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

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
