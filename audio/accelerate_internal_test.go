package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

// vowel is a voiced frame: harmonics of f0 with a falling spectrum, as a
// vowel's glottal pulses give, starting at phase (samples).
func vowel(f0 float64, phase int) []int16 {
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		x := float64(i+phase) / SampleRate
		var v float64
		for h := 1; float64(h)*f0 < 4000; h++ {
			v += math.Sin(2*math.Pi*f0*float64(h)*x+float64(h)) / float64(h)
		}
		pcm[i] = int16(4000 * v)
	}
	return pcm
}

func TestPitchPeriodOfVoicedFrames(t *testing.T) {
	for _, f0 := range []float64{85, 110, 125, 180, 220, 300} {
		want := SampleRate / f0
		p := pitchPeriod(vowel(f0, 37))
		if math.Abs(float64(p)-want) > max(1, want/50) { // within 2 %
			t.Errorf("%v Hz: period %d samples, want %.1f ± 2 %%", f0, p, want)
		}
	}
}

// Frames where leaving a period out would be heard or seen — not
// periodic, a pitch below the voice's range, a tone above it — are left
// whole.
func TestPitchPeriodRefusesWhatIsNotVoiced(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, FrameSamples)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 3000)
	}
	onset := vowel(150, 0)
	for i := range onset {
		onset[i] = int16(float64(onset[i]) * math.Pow(float64(i)/FrameSamples, 3))
	}
	siren, err := RenderTone(ToneEmergency, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for name, pcm := range map[string][]int16{
		"the siren's 1400 Hz": siren[SampleRate*50/1000 : SampleRate*50/1000+FrameSamples],
		"the siren's 900 Hz":  siren[SampleRate*125/1000 : SampleRate*125/1000+FrameSamples],
		"silence":             make([]int16, FrameSamples),
		"noise":               noise,
		"70 Hz":               vowel(70, 0),
		"onset":               onset,
	} {
		if p := pitchPeriod(pcm); p != 0 {
			t.Errorf("%s: period %d, want none", name, p)
		}
	}
}

// Leaving a period out shortens the frame by exactly it and keeps the
// waveform continuous: no step larger than the vowel's own.
func TestDropPeriodIsSeamless(t *testing.T) {
	for _, f0 := range []float64{90, 110, 160, 250} {
		pcm := vowel(f0, 11)
		step := 0
		for i := 1; i < len(pcm); i++ {
			step = max(step, abs(int(pcm[i])-int(pcm[i-1])))
		}
		p := pitchPeriod(pcm)
		n := dropPeriod(pcm, p)
		if n != FrameSamples-p {
			t.Fatalf("%v Hz: %d samples left, want %d", f0, n, FrameSamples-p)
		}
		// What follows the frame is the vowel after it: the shortened
		// frame must run into it seamlessly too.
		next := vowel(f0, 11+FrameSamples)
		out := append(pcm[:n:n], next[0])
		for i := 1; i < len(out); i++ {
			if d := abs(int(out[i]) - int(out[i-1])); d > step*11/10 {
				t.Fatalf("%v Hz: a step of %d at sample %d of %d, the vowel's largest is %d", f0, d, i, n, step)
			}
		}
	}
}

func abs(v int) int { return max(v, -v) }

func TestPitchPeriodAllocatesNothing(t *testing.T) {
	pcm := vowel(140, 0)
	fresh := append([]int16(nil), pcm...)
	if a := testing.AllocsPerRun(100, func() {
		copy(pcm, fresh)
		dropPeriod(pcm, max(pitchPeriod(pcm), minPeriod))
	}); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}

func FuzzPitchPeriod(f *testing.F) {
	f.Add(make([]byte, 2*FrameSamples))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm := make([]int16, FrameSamples)
		for i := range min(len(b)/2, FrameSamples) {
			pcm[i] = int16(b[2*i]) | int16(b[2*i+1])<<8
		}
		p := pitchPeriod(pcm)
		if p != 0 && (p < minPeriod || p > maxPeriod) {
			t.Fatalf("period %d outside %d…%d", p, minPeriod, maxPeriod)
		}
		if p != 0 {
			if n := dropPeriod(pcm, p); n != FrameSamples-p {
				t.Fatalf("%d samples left, want %d", n, FrameSamples-p)
			}
		}
	})
}

// The search's cost per voiced frame while the playout gives back an
// excess (BENCHMARKS.md, "Voice path").
func BenchmarkPitchPeriod(b *testing.B) {
	pcm := vowel(120, 0)
	b.ReportAllocs()
	for b.Loop() {
		if pitchPeriod(pcm) == 0 {
			b.Fatal("no period")
		}
	}
}
