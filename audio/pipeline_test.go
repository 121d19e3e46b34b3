package audio_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

var card *audiotest.Card

func TestMain(m *testing.M) {
	var err error
	card, err = audiotest.UseCard()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sound card:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(card.Dir)
	os.Exit(code)
}

func speech(t testing.TB) []int16 { return audiotest.Speech(t) }

type netSim struct {
	loss    float64 // probability a packet is lost
	reorder float64 // probability a packet is held back one packet
	rng     *rand.Rand
}

type result struct {
	sent, played []int16
	stats        audio.JitterStats
	frames       int
}

// runPipeline is the proof of the voice path on real parts: PortAudio
// captures the speech from ALSA's file plugin, Opus encodes it, the
// packetizer makes voice packets; a simulated network loses or reorders
// some; the receiver's jitter buffer and decoder conceal what is missing,
// and PortAudio plays the result into a WAV file. Time is counted in 20 ms
// turns (the file card is not paced), so the run is exact and fast.
func runPipeline(t *testing.T, in []int16, net netSim, target int) result {
	t.Helper()
	if err := card.SetInput(in, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	capt, err := audio.OpenCapture("filein")
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Close()
	play, err := audio.OpenPlayback("fileout")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := audio.NewPacketizer(enc, 3)
	if err != nil {
		t.Fatal(err)
	}
	rx, err := audio.NewReceiver(audio.JitterConfig{Target: target, Max: 25})
	if err != nil {
		t.Fatal(err)
	}
	if err := capt.Start(); err != nil {
		t.Fatal(err)
	}
	if err := play.Start(); err != nil {
		t.Fatal(err)
	}
	frames := (len(in) + audio.FrameSamples - 1) / audio.FrameSamples
	pcm := make([]int16, audio.FrameSamples)
	out := make([]int16, audio.FrameSamples)
	t0 := time.Unix(1763712000, 0)
	var held []byte // a packet the network holds back (reordering)
	deliver := func(p []byte, now time.Time) {
		if net.rng != nil && net.rng.Float64() < net.loss {
			return
		}
		if net.rng != nil && held == nil && net.reorder > 0 && net.rng.Float64() < net.reorder {
			held = append([]byte(nil), p...)
			return
		}
		if err := rx.Put("a", p, now); err != nil {
			t.Fatal(err)
		}
		if held != nil {
			rx.Put("a", held, now)
			held = nil
		}
	}
	pk.Begin(0x5eed)
	var played []int16
	ended := false
	for turn := 0; !ended; turn++ {
		if turn > frames+200 {
			t.Fatal("the burst never ended")
		}
		now := t0.Add(time.Duration(turn) * audio.FrameDuration)
		switch {
		case turn < frames:
			if err := capt.ReadFrame(pcm); err != nil {
				t.Fatal(err)
			}
			p, err := pk.Add(pcm, now)
			if err != nil {
				t.Fatal(err)
			}
			if p != nil {
				deliver(p, now)
			}
		case turn == frames:
			deliver(pk.End(), now)
		}
		kind, err := rx.Next(now, out)
		if err != nil {
			t.Fatal(err)
		}
		switch kind {
		case audio.PlayFrame, audio.PlayConceal:
			if err := play.WriteFrame(out); err != nil {
				t.Fatal(err)
			}
			played = append(played, out...)
		case audio.PlayEnd:
			ended = true
		}
	}
	capt.Stop()
	play.Stop()
	play.Close()
	fromCard, err := card.Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(fromCard) != len(played) {
		t.Fatalf("the card played %d samples, the receiver produced %d", len(fromCard), len(played))
	}
	for i := range played {
		if fromCard[i] != played[i] {
			t.Fatalf("sample %d: card %d, receiver %d", i, fromCard[i], played[i])
		}
	}
	return result{sent: in, played: fromCard, stats: rx.Stats(), frames: frames}
}

// heard200 scores the played speech in 200 ms windows (audiotest.Heard).
func heard200(r result) []float64 {
	return audiotest.Heard(r.sent, r.played, 3200, 8000)
}

func TestVoicePathClean(t *testing.T) {
	in := speech(t)
	// Initial target 0, as a speaker heard before on a clean link: the
	// burst plays as its packets come, nothing waits, nothing is sped up,
	// so the whole signal aligns at one lag.
	r := runPipeline(t, in, netSim{}, 0)
	lag, ncc := audiotest.Align(r.sent, r.played, 2000)
	t.Logf("clean: %d frames, lag %d samples, NCC %.3f, stats %+v", r.frames, lag, ncc, r.stats)
	if ncc < 0.9 {
		t.Errorf("NCC %.3f < 0.9: the played speech does not match what was captured", ncc)
	}
	if r.stats.Concealed != 0 || r.stats.Late != 0 || r.stats.Frames != uint64(r.frames) || r.stats.Underruns != 0 || r.stats.CompressedMs != 0 || r.stats.SilenceSkipped != 0 {
		t.Errorf("clean network: %+v", r.stats)
	}
}

func TestVoicePathLossAndReorder(t *testing.T) {
	in := speech(t)
	// A speaker never heard: the burst starts at an initial 80 ms, the
	// buffer learns the reordering and plays the excess away.
	r := runPipeline(t, in, netSim{loss: 0.05, reorder: 0.1, rng: rand.New(rand.NewPCG(1, 2))}, 4)
	h := heard200(r)
	gap := audiotest.LongestSilence(r.played)
	t.Logf("5%% loss, 10%% reorder: windows heard (NCC ≥ 0.7) %.2f, longest digital silence %d samples, stats %+v", audiotest.Fraction(h, 0.7), gap, r.stats)
	if r.stats.Concealed == 0 {
		t.Fatal("nothing was lost: the test did not test loss")
	}
	if r.stats.Late != 0 {
		t.Errorf("%d frames late: the buffer should wait for a reordered packet", r.stats.Late)
	}
	if len(r.played) < len(r.sent)-3*audio.FrameSamples-int(r.stats.SilenceSkipped+r.stats.Skipped)*audio.FrameSamples-int(r.stats.CompressedMs)*16 {
		t.Errorf("played %d samples of %d sent", len(r.played), len(r.sent))
	}
	// No gap: concealment never leaves digital silence longer than the
	// speech itself has (espeak-ng leaves some between words).
	if in := audiotest.LongestSilence(r.sent); gap > in+audio.FrameSamples/4 {
		t.Errorf("a gap of %d silent samples in playback; the speech's longest is %d", gap, in)
	}
	if f := audiotest.Fraction(h, 0.7); f < 0.7 {
		t.Errorf("%.2f of the windows heard with 5%% loss", f)
	}
}
