package audio_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

// chatterbox is a text-to-speech command that never stops talking: a WAV
// header with espeak-ng's placeholder sizes, then bytes of speech as long
// as anyone reads them — a 120 KB text message spoken in full is two
// hours of it.
func chatterbox(t *testing.T, rate int) string {
	t.Helper()
	dir := t.TempDir()
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 0x7fffffff)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], 0x7fffffff)
	if err := os.WriteFile(filepath.Join(dir, "header.wav"), h, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "tts")
	body := "#!/bin/sh\ncat " + filepath.Join(dir, "header.wav") + "\nexec tr '\\000' '\\001' < /dev/zero\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// A speech engine that goes on and on is stopped at MaxSpeech: the
// prompt holds a minute of audio at most, not what the engine would say.
// (Before the bound, Render read espeak-ng's output whole: hours of
// speech, gigabytes of memory.)
func TestRenderIsBoundedWhateverTheEngineSays(t *testing.T) {
	tts := audio.TTS{Command: chatterbox(t, 22050)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pcm, cut, err := tts.RenderCut(ctx, strings.Repeat("Gate three is open. ", 6000))
	if err != nil {
		t.Fatal(err)
	}
	if max := int(audio.DefaultMaxSpeech.Seconds() * audio.SampleRate); len(pcm) > max || len(pcm) < max-audio.FrameSamples {
		t.Errorf("%d samples (%.1f s), want %d (%s)", len(pcm), float64(len(pcm))/audio.SampleRate, max, audio.DefaultMaxSpeech)
	}
	if !cut {
		t.Error("the speech was cut but RenderCut says not")
	}
	tts.MaxSpeech = 2 * time.Second
	if pcm, _ = tts.Render(ctx, "more"); len(pcm) != 2*audio.SampleRate {
		t.Errorf("MaxSpeech 2 s: %d samples", len(pcm))
	}
}

// The same with the real espeak-ng and a 120 KB message: a minute of
// speech, rendered in seconds, not two hours.
func TestRenderOfA120KBTextWithEspeak(t *testing.T) {
	audiotest.NeedTools(t, "espeak-ng")
	text := strings.Repeat("All units, the road to the harbour is closed until further notice. ", 120<<10/68)
	start := time.Now()
	pcm, cut, err := audio.TTS{Voice: "en"}.RenderCut(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d KB of text: %.1f s of speech in %s", len(text)>>10, float64(len(pcm))/audio.SampleRate, time.Since(start).Round(time.Millisecond))
	if max := int(audio.DefaultMaxSpeech.Seconds() * audio.SampleRate); len(pcm) > max || !cut {
		t.Errorf("%d samples, cut %v: want at most %d, cut", len(pcm), cut, max)
	}
}

// What waits for its turn is bounded in bytes as well as in number: a few
// long texts or clips fill the queue, and what comes then is refused
// (the caller counts it), not kept.
func TestPrompterQueueIsBoundedInBytes(t *testing.T) {
	rx, _ := audio.NewReceiver(audio.JitterConfig{Target: 3, Max: 10})
	pr := audio.NewPrompter(audio.TTS{}, audio.NewOutput(&audiotest.Player{}, rx), 100)
	pr.MaxQueue = 3 * audio.MaxPromptText
	huge := strings.Repeat("x", 10*audio.MaxPromptText)
	for i := range 3 {
		if err := pr.Say(huge); err != nil {
			t.Fatalf("text %d: %v", i, err)
		}
	}
	if n, bytes := pr.Queued(); n != 3 || bytes != 3*audio.MaxPromptText {
		t.Errorf("queued %d texts, %d bytes: each text is cut to %d bytes", n, bytes, audio.MaxPromptText)
	}
	if err := pr.Say("one more"); !errors.Is(err, audio.ErrQueueFull) {
		t.Errorf("a text past the byte bound: %v, want ErrQueueFull", err)
	}
	pr2 := audio.NewPrompter(audio.TTS{}, audio.NewOutput(&audiotest.Player{}, rx), 100)
	clip := make([]int16, 5*60*audio.SampleRate) // five minutes
	if err := pr2.Play(clip); err != nil {
		t.Fatal(err)
	}
	if _, bytes := pr2.Queued(); bytes != 2*int(audio.DefaultMaxSpeech.Seconds()*audio.SampleRate) || pr2.Cut() != 1 {
		t.Errorf("a five-minute clip queued as %d bytes (cut %d): want one minute", bytes, pr2.Cut())
	}
	for pr2.Play(clip) == nil {
	}
	if _, bytes := pr2.Queued(); bytes > audio.DefaultMaxQueue {
		t.Errorf("clips queued: %d bytes, more than %d", bytes, audio.DefaultMaxQueue)
	}
}

// The Prompter renders ahead of the speaker by MaxAhead, no more: queued
// clips stay in its queue (bounded) until the speaker has played what it
// was given.
func TestPrompterRendersNoFurtherAheadThanMaxAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rx, _ := audio.NewReceiver(audio.JitterConfig{Target: 3, Max: 10})
		player := &audiotest.Player{Pace: audio.FrameDuration}
		out := audio.NewOutput(player, rx)
		pr := audio.NewPrompter(audio.TTS{}, out, 16)
		pr.MaxAhead = 5 * time.Second
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go out.Run(ctx)
		go pr.Run(ctx)
		for range 8 {
			if err := pr.Play(make([]int16, 4*audio.SampleRate)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 20 {
			time.Sleep(time.Second)
			synctest.Wait()
			// After a second: two clips (8 s) on the speaker, the third
			// rendered and waiting for room, five queued.
			if n := pr.Pending(); i == 0 && n != 6 {
				t.Errorf("%d clips pending after a second, want 6 (one waiting for the speaker, five queued)", n)
			}
			if b := out.PromptBacklog(); b > pr.MaxAhead+4*time.Second {
				t.Fatalf("%s of prompts handed to the speaker, want at most MaxAhead (%s) and one clip", b, pr.MaxAhead)
			}
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if played, _ := player.Played(); len(played) != 8*4*audio.SampleRate {
			t.Errorf("played %d samples, want all 8 clips (%d)", len(played), 8*4*audio.SampleRate)
		}
		if n := pr.Pending(); n != 0 {
			t.Errorf("%d clips pending after all were played", n)
		}
		cancel()
		synctest.Wait()
	})
}
