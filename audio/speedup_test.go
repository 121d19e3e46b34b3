package audio_test

import (
	"math"
	"slices"
	"testing"

	"github.com/pttagent/pttagent/audio"
)

// resample is the naive way to play faster: fewer samples by linear
// interpolation, which raises the pitch by the same factor. The control
// the quality measure must reject.
func resample(pcm []int16, speed float64) []int16 {
	out := make([]int16, int(float64(len(pcm))/speed))
	for i := range out {
		x := float64(i) * speed
		k := int(x)
		if k+1 >= len(pcm) {
			break
		}
		f := x - float64(k)
		out[i] = int16(float64(pcm[k])*(1-f) + float64(pcm[k+1])*f)
	}
	return out
}

// windowNCC scores sped-up audio against the original: each voiced 20 ms
// window of out (RMS at least a tenth of the loudest) is matched where it
// should come from, speed × its position, ±30 ms, and scored by its best
// normalised cross-correlation there. Pitch-preserving compression keeps
// the waveform between its splices, so windows match; a pitch shift or a
// garbled splice does not.
func windowNCC(orig, out []int16, speed float64) []float64 {
	const win, slack = audio.FrameSamples, 480
	energy := func(s []int16) float64 {
		var e float64
		for _, v := range s {
			e += float64(v) * float64(v)
		}
		return e
	}
	loudest := 0.0
	for o := 0; o+win <= len(out); o += win {
		loudest = max(loudest, energy(out[o:o+win]))
	}
	var scores []float64
	for o := 0; o+win <= len(out); o += win {
		w := out[o : o+win]
		ew := energy(w)
		if ew < loudest/100 {
			continue
		}
		e := int(float64(o) * speed)
		best := 0.0
		for g := max(0, e-slack); g <= e+slack && g+win <= len(orig); g++ {
			var dot float64
			for i, v := range w {
				dot += float64(v) * float64(orig[g+i])
			}
			if eg := energy(orig[g : g+win]); eg > 0 {
				best = max(best, dot/math.Sqrt(ew*eg))
			}
		}
		scores = append(scores, best)
	}
	return scores
}

func quantile(s []float64, q float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// Time-compressed speech keeps its waveform: on espeak-ng speech, at the
// playout's lightest (10 %) and strongest (25 %) compression, the median
// voiced 20 ms window matches the original with NCC ≥ 0.95 and nine in
// ten with ≥ 0.85 (measured: 0.999 and 0.935 at 25 %), where resampling to
// the same length — the same speed with the pitch raised — scores a
// median under 0.6: the thresholds sit well between the two.
func TestSpeedUpKeepsSpeech(t *testing.T) {
	sp := speech(t)
	for _, speed := range []float64{1.10, 1.25} {
		out, err := audio.SpeedUp(sp, float32(speed))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := float64(len(sp))/float64(len(out)), speed; math.Abs(got-want) > 0.02 {
			t.Errorf("speed %.2f: %d samples in, %d out (×%.3f)", speed, len(sp), len(out), got)
		}
		s := windowNCC(sp, out, speed)
		r := windowNCC(sp, resample(sp, speed), speed)
		t.Logf("speed %.2f: %d voiced windows, NCC median %.3f, p10 %.3f; resampled: median %.3f, p10 %.3f",
			speed, len(s), quantile(s, 0.5), quantile(s, 0.1), quantile(r, 0.5), quantile(r, 0.1))
		if quantile(s, 0.5) < 0.95 || quantile(s, 0.1) < 0.85 {
			t.Errorf("speed %.2f: median %.3f, p10 %.3f; want ≥ 0.95 and ≥ 0.85", speed, quantile(s, 0.5), quantile(s, 0.1))
		}
		if quantile(r, 0.5) >= 0.95 || quantile(r, 0.1) >= 0.85 {
			t.Errorf("the measure does not tell a pitch shift: resampled median %.3f p10 %.3f", quantile(r, 0.5), quantile(r, 0.1))
		}
	}
}

// zeroCrossingHz estimates a tone's frequency.
func zeroCrossingHz(pcm []int16) float64 {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(pcm)) / audio.SampleRate)
}

// The pitch stays: a 180 Hz tone (a voice's pitch) sped up by 25 % is still
// 180 Hz within 1 %, where resampling makes it 225 Hz.
func TestSpeedUpKeepsPitch(t *testing.T) {
	tone := make([]int16, 2*audio.SampleRate)
	for i := range tone {
		tone[i] = int16(12000 * math.Sin(2*math.Pi*180*float64(i)/audio.SampleRate))
	}
	out, err := audio.SpeedUp(tone, 1.25)
	if err != nil {
		t.Fatal(err)
	}
	mid := out[len(out)/4 : 3*len(out)/4]
	got, naive := zeroCrossingHz(mid), zeroCrossingHz(resample(tone, 1.25))
	t.Logf("180 Hz at speed 1.25: %.1f Hz (resampled: %.1f Hz), %d → %d samples", got, naive, len(tone), len(out))
	if math.Abs(got-180) > 1.8 {
		t.Errorf("pitch %.1f Hz, want 180 ± 1 %%", got)
	}
	if math.Abs(naive-225) > 3 {
		t.Errorf("the control is wrong: resampled %.1f Hz", naive)
	}
}
