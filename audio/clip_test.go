package audio_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/audio/ogg"
	"github.com/pttagent/pttagent/wire"
)

// oggSpeech is the test speech as a recording: what another handset
// uploads for a burst.
func oggSpeech(t testing.TB) (pcm []int16, file []byte) {
	t.Helper()
	sp := audiotest.Speech(t)
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := ogg.NewWriter(&b, ogg.Options{Serial: 7})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, wire.MaxOpusFrame)
	n := 0
	for ; n+audio.FrameSamples <= len(sp); n += audio.FrameSamples {
		k, err := enc.Encode(sp[n:n+audio.FrameSamples], buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(buf[:k], 960); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return sp[:n], b.Bytes()
}

// A recording decodes back to the speech in it, at the handset's rate.
func TestDecodeOggOpusRecording(t *testing.T) {
	sp, file := oggSpeech(t)
	pcm, cut, err := audio.DecodeOggOpus(file, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if cut || len(pcm) < len(sp)-audio.FrameSamples || len(pcm) > len(sp)+audio.FrameSamples {
		t.Errorf("%d samples (cut %v), the speech has %d", len(pcm), cut, len(sp))
	}
	heard := audiotest.Fraction(audiotest.Heard(sp, pcm, 60*audio.SampleRate/1000, audio.SampleRate/10), 0.8)
	if heard < 0.9 {
		t.Errorf("%.0f %% of the speech recognisable in the decoded clip, want ≥ 90 %%", heard*100)
	}
	short, cut, err := audio.DecodeOggOpus(file, time.Second)
	if err != nil || !cut || len(short) != audio.SampleRate {
		t.Errorf("one second of it: %d samples, cut %v, %v", len(short), cut, err)
	}
}

// A stereo file of another encoder (opusenc) is mixed down.
func TestDecodeOggOpusStereoFromOpusenc(t *testing.T) {
	audiotest.NeedTools(t, "opusenc", "espeak-ng")
	dir := t.TempDir()
	wav := filepath.Join(dir, "s.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Gate three is open").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	stereo := filepath.Join(dir, "s.opus")
	// A stereo file: the same speech in both channels, through opusenc's
	// raw input (ffmpeg is optional here).
	_, mono, err := audiotest.ReadWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 0, 4*len(mono))
	for _, v := range mono {
		raw = append(raw, byte(v), byte(v>>8), byte(v), byte(v>>8))
	}
	rawPath := filepath.Join(dir, "s.raw")
	os.WriteFile(rawPath, raw, 0o644)
	if out, err := exec.Command("opusenc", "--quiet", "--raw", "--raw-rate", "22050", "--raw-chan", "2", rawPath, stereo).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v: %s", err, out)
	}
	b, _ := os.ReadFile(stereo)
	pcm, _, err := audio.DecodeOggOpus(b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := audio.Resample(mono, 22050, audio.SampleRate)
	if d := len(pcm) - len(want); d < -audio.FrameSamples || d > 2*audio.FrameSamples {
		t.Errorf("%d samples, want about %d", len(pcm), len(want))
	}
	if lag, ncc := audiotest.Align(want, pcm, audio.SampleRate/10); ncc < 0.8 {
		t.Errorf("the stereo clip mixed down: NCC %.2f at lag %d, want ≥ 0.8", ncc, lag)
	}
}

// What is not an Ogg Opus file is an error.
func TestDecodeOggOpusRefusesJunk(t *testing.T) {
	_, file := oggSpeech(t)
	for name, b := range map[string][]byte{
		"empty":      nil,
		"html":       []byte("<html><body>404</body></html>"),
		"truncated":  file[:40],
		"6 channels": func() []byte { c := bytes.Clone(file); c[27+int(c[26])+9] = 6; return c }(),
	} {
		if _, _, err := audio.DecodeOggOpus(b, time.Minute); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// The voice messages come from the platform: any bytes must give a clip
// or an error, within the bound, never a crash.
func FuzzDecodeOggOpus(f *testing.F) {
	_, file := oggSpeech(f)
	f.Add(file)
	f.Add(file[:200])
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, _, err := audio.DecodeOggOpus(b, 2*time.Second)
		if err == nil && (len(pcm) == 0 || len(pcm) > 2*audio.SampleRate+audio.FrameSamples) {
			t.Fatalf("%d samples", len(pcm))
		}
	})
}
