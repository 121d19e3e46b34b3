package audio_test

import (
	"context"
	"math"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

func TestTones(t *testing.T) {
	for _, name := range audio.Tones {
		pcm, err := audio.RenderTone(name, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if len(pcm) == 0 || len(pcm)%audio.FrameSamples != 0 || len(pcm) > 20*audio.FrameSamples {
			t.Errorf("%s: %d samples", name, len(pcm))
		}
		peak := 0
		for _, s := range pcm {
			peak = max(peak, int(math.Abs(float64(s))))
		}
		if peak < 15000 || peak > 16384 {
			t.Errorf("%s: peak %d at volume 0.5", name, peak)
		}
	}
	// The end beep is 80 ms of 1 kHz: about 160 zero crossings.
	pcm, _ := audio.RenderTone(audio.ToneEnd, 1)
	crossings := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			crossings++
		}
	}
	if crossings < 150 || crossings > 170 {
		t.Errorf("end tone: %d zero crossings, want ~160", crossings)
	}
	if quiet, _ := audio.RenderTone(audio.ToneGrant, 0); audiotest.LongestSilence(quiet) != len(quiet) {
		t.Error("volume 0 is not silent")
	}
	if _, err := audio.RenderTone("fanfare", 1); err == nil {
		t.Error("unknown tone rendered")
	}
}

func TestTTS(t *testing.T) {
	audiotest.NeedTools(t, "espeak-ng")
	for _, voice := range []string{"", "cmn"} {
		text := "Group two"
		if voice == "cmn" {
			text = "第二组"
		}
		pcm, err := audio.TTS{Voice: voice, Volume: 0.8}.Render(context.Background(), text)
		if err != nil {
			t.Fatalf("voice %q: %v", voice, err)
		}
		if d := time.Duration(len(pcm)) * time.Second / audio.SampleRate; d < 300*time.Millisecond || d > 5*time.Second || len(pcm)%audio.FrameSamples != 0 {
			t.Errorf("voice %q: %v of speech, %d samples", voice, d, len(pcm))
		}
		if audiotest.LongestSilence(pcm) == len(pcm) {
			t.Errorf("voice %q: silence", voice)
		}
	}
	// espeak-ng falls back to English without a word: CheckVoice catches it.
	if err := (audio.TTS{Voice: "no-such-voice"}).CheckVoice(context.Background()); err == nil {
		t.Error("a missing voice passed the check")
	}
	for _, v := range []string{"cmn", "en", "en-us", ""} {
		if err := (audio.TTS{Voice: v}).CheckVoice(context.Background()); err != nil {
			t.Errorf("voice %q: %v", v, err)
		}
	}
	if _, err := (audio.TTS{Command: "/nonexistent/espeak"}).Render(context.Background(), "hi"); err == nil {
		t.Error("a missing espeak-ng rendered")
	}
	// Text that looks like a flag is spoken, not parsed.
	if _, err := (audio.TTS{}).Render(context.Background(), "--help"); err != nil {
		t.Errorf("--help: %v", err)
	}
}

func constant(v int16, frames int) []int16 {
	s := make([]int16, frames*audio.FrameSamples)
	for i := range s {
		s[i] = v
	}
	return s
}

// frameKinds renders what each played frame was: 'A'/'B' a frame of
// prompt A or B, 'v' voice, '.' silence, '?' a mixture.
func frameKinds(pcm []int16) string {
	var b []byte
	for i := 0; i+audio.FrameSamples <= len(pcm); i += audio.FrameSamples {
		f := pcm[i : i+audio.FrameSamples]
		k := byte('?')
		switch {
		case allOf(f, 1111):
			k = 'A'
		case allOf(f, 2222):
			k = 'B'
		case allOf(f, 0):
			k = '.'
		case !any(f, 1111) && !any(f, 2222):
			k = 'v'
		}
		b = append(b, k)
	}
	return string(b)
}

func allOf(f []int16, v int16) bool {
	for _, s := range f {
		if s != v {
			return false
		}
	}
	return true
}

func any(f []int16, v int16) bool {
	run := 0
	for _, s := range f {
		if s == v {
			if run++; run > 8 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// Prompts play one after the other; a burst of received voice silences a
// prompt at once — even while the burst is still filling the jitter
// buffer — and the prompt carries on where it stopped afterwards. Runs in
// a synctest bubble: the fake player takes 20 ms per frame like a device.
func TestOutputVoiceWinsPromptsNeverOverlap(t *testing.T) {
	sp := speech(t)
	enc, _ := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	pk, _ := audio.NewPacketizer(enc, 3)
	pk.Begin(42)
	var packets [][]byte
	for i := 0; i < 30; i++ { // 30 frames = 10 packets = 600 ms
		if p, _ := pk.Add(sp[(i+50)*audio.FrameSamples:(i+51)*audio.FrameSamples], time.Now()); p != nil {
			packets = append(packets, append([]byte(nil), p...))
		}
	}
	packets = append(packets, append([]byte(nil), pk.End()...))

	synctest.Test(t, func(t *testing.T) {
		player := &audiotest.Player{Pace: audio.FrameDuration}
		rx, _ := audio.NewReceiver(audio.JitterConfig{Target: 0, Max: 10})
		out := audio.NewOutput(player, rx)
		var voiceOn []bool
		out.OnVoice = func(on bool) { voiceOn = append(voiceOn, on) }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- out.Run(ctx) }()

		out.PlayPrompt(constant(1111, 20)) // 400 ms
		out.PlayPrompt(constant(2222, 5))
		time.Sleep(205 * time.Millisecond)
		for _, p := range packets { // voice arrives in real time
			if err := out.PutVoice(p, time.Now()); err != nil {
				t.Error(err)
			}
			time.Sleep(60 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if out.Playing() {
			t.Error("Playing after everything played")
		}
		_, starts := player.Played()
		// A tone after everything went quiet starts the stream again;
		// the speaker is in use from the moment it is queued until its
		// last frame is on the card.
		tone, _ := audio.RenderTone(audio.ToneEnd, 0.5)
		out.PlayTone(tone)
		if !out.Playing() {
			t.Error("not Playing with a tone queued")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if out.Playing() {
			t.Error("Playing after the tone played")
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatal(err)
		}
		played, starts2 := player.Played()
		kinds := frameKinds(played)
		t.Logf("played: %s", kinds)
		// 10 or 11 frames of A (until the voice came), the 30 frames of
		// voice (with silence if it had to buffer), the rest of A, then B,
		// then the 4 frames of the end tone.
		m := regexp.MustCompile(`^(A+)\.*(v{30})\.*(A+)(B{5})(v{4})\.*$`).FindStringSubmatch(kinds)
		if m == nil {
			t.Fatalf("played %s", kinds)
		}
		if a := len(m[1]) + len(m[3]); a != 20 || len(m[1]) < 10 || len(m[1]) > 11 {
			t.Errorf("prompt A: %d frames before the voice, %d after; want 10–11 and 20 in all", len(m[1]), len(m[3]))
		}
		if len(voiceOn) != 2 || !voiceOn[0] || voiceOn[1] {
			t.Errorf("OnVoice calls %v, want [true false]", voiceOn)
		}
		if starts != 1 || starts2 != 2 {
			t.Errorf("player started %d then %d times: the stream should stop when idle", starts, starts2)
		}
		if s := rx.Stats(); s.Frames != 30 || s.Concealed != 0 {
			t.Errorf("voice: %+v", s)
		}
	})
}

func TestPrompterSpeaksInOrder(t *testing.T) {
	audiotest.NeedTools(t, "espeak-ng")
	player := &audiotest.Player{}
	rx, _ := audio.NewReceiver(audio.JitterConfig{Target: 3, Max: 10})
	out := audio.NewOutput(player, rx)
	pr := audio.NewPrompter(audio.TTS{Voice: "en"}, out, 2)
	if err := pr.Say("GPS fix acquired"); err != nil {
		t.Fatal(err)
	}
	pr.Say("Uplink restored")
	if err := pr.Say("one too many"); err != audio.ErrQueueFull {
		t.Fatalf("third prompt: %v, want ErrQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go out.Run(ctx)
	go pr.Run(ctx)
	want1, _ := audio.TTS{Voice: "en"}.Render(ctx, "GPS fix acquired")
	want2, _ := audio.TTS{Voice: "en"}.Render(ctx, "Uplink restored")
	deadline := time.Now().Add(20 * time.Second)
	for {
		played, _ := player.Played()
		if len(played) >= len(want1)+len(want2) {
			// Exactly the two prompts, one after the other.
			for i, s := range append(want1, want2...) {
				if played[i] != s {
					t.Fatalf("sample %d: %d, want %d", i, played[i], s)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("played %d samples of %d", len(played), len(want1)+len(want2))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
