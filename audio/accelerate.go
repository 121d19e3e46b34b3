package audio

import "math"

// Giving back a small excess inside speech. After a single late packet
// the playout runs 20–60 ms behind its target; pauses give that back
// (Receiver.play), but speech may run for seconds before the next one,
// and every frame until then is heard that much later. libsonic, which
// catches up a stall's backlog, holds up to ~30 ms of input to search for
// the pitch in: turned on for a 40 ms excess it would add most of what it
// saves. dropPeriod works on the one frame at hand and holds nothing: in
// a voiced frame it finds the pitch period and leaves one period out,
// cross-fading the period before it into the one after, so the waveform
// stays continuous and the pitch unchanged — 2.5–12.5 ms less per frame
// (what WebRTC's NetEq calls "accelerate").

const (
	// Pitch periods searched: 400 Hz down to 80 Hz (a low male voice).
	minPeriod = SampleRate / 400
	maxPeriod = SampleRate / 80
	// corrWindow samples are compared at each lag: the start of the
	// frame against the same length one period on.
	corrWindow = FrameSamples - maxPeriod
	// A period is left out only where the frame repeats itself that
	// closely (normalised cross-correlation) at a steady level (the two
	// windows within 3 dB): voiced, steady speech. Elsewhere (onsets,
	// consonants, noise) the splice would be heard.
	minPeriodicity = 0.9
	// The search runs at a quarter of the rate, where a voiced frame
	// correlates a little less (the copy is crude) before it is refined.
	decimate          = 4
	coarsePeriodicity = 0.8
	// minTonePeriod: shorter periods than a voice's, down to 2 kHz, are
	// looked for to tell a tone from a voice (tone).
	minTonePeriod = SampleRate / 2000
)

// pitchPeriod is the pitch period, in samples, of the voiced frame in
// pcm[:FrameSamples]; 0 when the frame is not periodic enough to leave a
// period out unheard. The search runs on a 4 kHz copy of the frame (plenty
// for a voice's pitch, a sixteenth of the work; libsonic does the same),
// and its peaks are refined at the full rate. It allocates nothing.
func pitchPeriod(pcm []int16) int {
	x := pcm[:FrameSamples]
	// The 4 kHz copy: sums of four samples, a crude low-pass.
	var d [FrameSamples / decimate]float64
	for i := range d {
		for _, v := range x[decimate*i : decimate*(i+1)] {
			d[i] += float64(v)
		}
	}
	var corr [maxPeriod/decimate + 1]float64
	top := 0.0
	for l := minPeriod / decimate; l <= maxPeriod/decimate; l++ {
		corr[l] = normCorr(d[:], l, corrWindow/decimate)
		top = max(top, corr[l])
	}
	if top < coarsePeriodicity {
		return 0
	}
	// Each peak of the coarse search is refined at the full rate, within
	// a coarse step either side (the copy's lags are 4 samples apart:
	// a high voice's period may fall between two, and a multiple of it
	// on one).
	var xf [FrameSamples]float64
	for i, v := range x {
		xf[i] = float64(v)
	}
	var cand [maxPeriod/decimate + 1]struct {
		p int
		c float64
	}
	n, best := 0, 0.0
	for l := minPeriod / decimate; l <= maxPeriod/decimate; l++ {
		if corr[l] < coarsePeriodicity || (l > minPeriod/decimate && corr[l-1] >= corr[l]) ||
			(l < maxPeriod/decimate && corr[l+1] > corr[l]) {
			continue
		}
		p, c := 0, 0.0
		for q := max(minPeriod, decimate*l-decimate+1); q <= min(maxPeriod, decimate*l+decimate-1); q++ {
			if cq := normCorr(xf[:], q, corrWindow); cq > c {
				p, c = q, cq
			}
		}
		cand[n].p, cand[n].c = p, c
		n++
		best = max(best, c)
	}
	if best < minPeriodicity {
		return 0
	}
	// The shortest period that correlates about as well as the best: a
	// multiple of it correlates nearly as well, and leaving out two
	// periods is twice the audible change.
	for _, k := range cand[:n] {
		if k.c >= max(minPeriodicity, 0.97*best) {
			if tone(xf[:], k.p) {
				return 0
			}
			return k.p
		}
	}
	return 0
}

// tone says whether the frame, periodic at lag p, repeats at a fraction
// of it shorter than a voice's shortest period (2.5 ms) too: a tone or a
// siren above the voice's range (an emergency call starts with one), whose
// waveform listeners and tests compare — it is played whole.
func tone(xf []float64, p int) bool {
	for k := p/minPeriod + 1; p/k >= minTonePeriod; k++ {
		if normCorr(xf, (p+k/2)/k, corrWindow) >= minPeriodicity {
			return true
		}
	}
	return false
}

// normCorr is the normalised cross-correlation of v[:w] with v[lag:lag+w];
// 0 when either is silent or their levels differ by more than 3 dB (an
// onset, a fading end: not steady).
func normCorr(v []float64, lag, w int) float64 {
	var c, e0, el float64
	for i := range w {
		a, b := v[i], v[i+lag]
		c += a * b
		e0 += a * a
		el += b * b
	}
	if e0 == 0 || el == 0 || el > 2*e0 || e0 > 2*el {
		return 0
	}
	return c / math.Sqrt(e0*el)
}

// dropPeriod leaves the period p (from pitchPeriod) out of the frame in
// pcm[:FrameSamples], in place, and returns the frame's new length. The
// start of the frame cross-fades into the same stretch one period on —
// over a whole period, or what is left of the frame after it for a
// period longer than half the frame — and the rest follows.
func dropPeriod(pcm []int16, p int) int {
	x := pcm[:FrameSamples]
	fade := min(p, FrameSamples-p)
	for i := range fade {
		a, b := float64(x[i]), float64(x[i+p])
		w := float64(i) / float64(fade)
		x[i] = int16(a*(1-w) + b*w)
	}
	return fade + copy(x[fade:], x[p+fade:])
}
