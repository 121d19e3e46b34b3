package audiotest

import (
	"math"
)

// Intelligible says, for each voiced 20 ms frame of the speech that was
// sent (ref), whether a listener heard it in what was played (got) — the
// measure of the voice tests over impaired links, where the playout may
// stall, conceal, skip pauses and play a backlog up to 50 % faster
// without changing the pitch.
//
// Waveform correlation cannot tell those apart from loss: a sped-up
// window no longer lines up with the original, and a short window lines
// up with some other bit of speech nearby by chance. So it compares what
// a listener's ear compares, the short-time spectrum: each 20 ms frame
// becomes the log energies of 20 bands on a mel-like scale (100 Hz–7 kHz),
// and dynamic time warping finds the order-keeping path through got that
// fits ref best — a stall is a run of got frames matched to no ref frame,
// a faster playout several ref frames matched to fewer got frames, a
// shortened pause ref pause frames matched to nothing. A ref
// frame counts as heard when its spectral shape correlates with the got
// frame the path gives it by at least threshold. Frames of ref below
// −20 dB of its loudest (pauses) are not counted.
//
// It returns the share of voiced ref frames heard. Calibration
// (heard_intelligible_test.go, at HeardThreshold): Opus-coded speech
// 0.99, after a 1.5 s stall 0.98, played 25 % faster 0.98, 50 % faster
// 0.95, a stall caught up by shortening the pauses after it and playing
// the rest 50 % faster 0.94; with a fifth of it cut out in 200 ms pieces
// 0.75, another sentence altogether 0.53 — speech that is not there
// still scores about half, so read the figures on that scale.
func Intelligible(ref, got []int16, threshold float64) float64 {
	voiced, heard := heardFrames(ref, got, threshold)
	n, total := 0, 0
	for i, v := range voiced {
		if v {
			total++
			if heard[i] {
				n++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// heardFrames is Intelligible frame by frame: which 20 ms frames of ref
// are voiced, and which of those were heard.
func heardFrames(ref, got []int16, threshold float64) (voiced, heard []bool) {
	fr, er := spectra(ref)
	fg, eg := spectra(got)
	if len(fr) == 0 || len(fg) == 0 {
		return make([]bool, len(fr)), make([]bool, len(fr))
	}
	loud := 0.0
	for _, e := range er {
		loud = max(loud, e)
	}
	quietG := 0.0
	for _, e := range eg {
		quietG = max(quietG, e)
	}
	voiced = make([]bool, len(fr))
	for i, e := range er {
		voiced[i] = e >= loud-2 // log10 energy: −20 dB
	}
	gSilent := make([]bool, len(fg))
	for j, e := range eg {
		gSilent[j] = e < quietG-2.5
	}
	n, m := len(fr), len(fg)
	// cost[i][j]: 1 − spectral correlation; silent ref frames match
	// anything cheaply, they are not judged.
	// A frame is compared with its neighbours (60 ms of context): a
	// single 20 ms spectrum of speech looks like many others, a syllable's
	// movement much less.
	sim := func(i, j int) float64 {
		var ab, aa, bb float64
		for d := -1; d <= 1; d++ {
			a, b := i+d, j+d
			if a < 0 || a >= n || b < 0 || b >= m {
				continue
			}
			for k := range fr[a] {
				ab += fr[a][k] * fg[b][k]
				aa += fr[a][k] * fr[a][k]
				bb += fg[b][k] * fg[b][k]
			}
		}
		if aa == 0 || bb == 0 {
			return 0
		}
		return ab / math.Sqrt(aa*bb)
	}
	const (
		inf        = math.MaxFloat64 / 4
		skipGot    = 0.15 // a got frame no ref frame matches: a stall's fill, a concealed frame
		skipGotSil = 0.02 // … when it is silence
		mergeRef   = 0.05 // a ref frame sharing the got frame of its predecessor: faster playout
		// A pause frame of ref left out of the playout: a playout that
		// catches up shortens pauses first, and nobody hears a pause go.
		// Only pause frames may go this way, as many in a row as the
		// pause has; a voiced frame always needs a got frame.
		dropPause = 0.02
	)
	cost := func(i, j int) float64 {
		if !voiced[i] {
			if gSilent[j] {
				return 0
			}
			return 0.3
		}
		return 1 - sim(i, j)
	}
	// Two layers of the best path's cost ending with ref frame i on got
	// frame j: dn arrived by a step forward in got (one frame, or after a
	// run of got frames matched to nothing), dm by sharing ref frame
	// i−1's got frame. A merge of a voiced frame must follow a step
	// forward, so speech runs at most twice as fast as got: the fastest
	// playout is 1.5×, and a stretch of speech cut out cannot be merged
	// away. Pause frames may merge in any number (dropPause): a playout
	// catching up leaves pauses out, and before this a pause left out
	// after a stall pushed the path off the speech that followed (a
	// caught-up stall scored 0.71, the same speech heard whole).
	// fromN[i][j] is the got frame ref i−1 sits on (layer in fromL).
	// Open start in got (the playout begins later than the capture),
	// open end.
	dn, dm := make([][]float64, n), make([][]float64, n)
	fromN := make([][]int32, n)
	fromL := make([][]bool, n) // true: ref i−1 was in the merge layer
	// mFromM[i][j]: ref i in the merge layer follows ref i−1 in the merge
	// layer too (a pause left out), not a step forward.
	mFromM := make([][]bool, n)
	for i := range dn {
		dn[i], dm[i] = make([]float64, m), make([]float64, m)
		fromN[i], fromL[i], mFromM[i] = make([]int32, m), make([]bool, m), make([]bool, m)
	}
	skip := func(j int) float64 {
		if gSilent[j] {
			return skipGotSil
		}
		return skipGot
	}
	for j := 0; j < m; j++ {
		dn[0][j] = float64(j)*skipGotSil + cost(0, j)
		dm[0][j] = inf
	}
	for i := 1; i < n; i++ {
		// run: the cheapest ref frame i−1 on a got frame before j with the
		// frames between matched to nothing.
		run, runFrom, runL := inf, int32(0), false
		for j := 0; j < m; j++ {
			c := cost(i, j)
			dm[i][j] = dn[i-1][j] + c + mergeRef
			if !voiced[i] {
				if d := min(dn[i-1][j], dm[i-1][j]) + dropPause; d < dm[i][j] {
					dm[i][j], mFromM[i][j] = d, dm[i-1][j] < dn[i-1][j]
				}
			}
			dn[i][j] = inf
			if j > 0 {
				prev, prevL := dn[i-1][j-1], false
				if dm[i-1][j-1] < prev {
					prev, prevL = dm[i-1][j-1], true
				}
				if prev <= run+skip(j-1) {
					run, runFrom, runL = prev, int32(j-1), prevL
				} else {
					run += skip(j - 1)
				}
				dn[i][j], fromN[i][j], fromL[i][j] = run+c, runFrom, runL
			}
		}
	}
	j, inMerge := 0, false
	for k := 0; k < m; k++ {
		if dn[n-1][k] < min(dn[n-1][j], dm[n-1][j]) || (dn[n-1][k] == dn[n-1][j] && k == j) {
			j, inMerge = k, false
		}
		if dm[n-1][k] < min(dn[n-1][j], dm[n-1][j]) {
			j, inMerge = k, true
		}
	}
	path := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		path[i] = j
		if i == 0 {
			break
		}
		if inMerge {
			inMerge = mFromM[i][j] // from dn[i−1][j], or a pause left out
			continue
		}
		j, inMerge = int(fromN[i][j]), fromL[i][j]
	}
	heard = make([]bool, n)
	for i := range fr {
		heard[i] = voiced[i] && sim(i, path[i]) >= threshold
	}
	return voiced, heard
}

// HeardThreshold is the spectral correlation at which Intelligible counts
// a frame as heard.
const HeardThreshold = 0.7

const (
	specFrame = 320 // 20 ms at 16 kHz
	specBands = 20
)

// spectra cuts s into 20 ms frames and returns each frame's band log
// energies and its overall log energy. The bands are normalised twice:
// each frame's mean is removed (the shape, not the level: the listener's
// volume differs) and so is each band's mean over the signal's louder
// frames (the speaker's and the channel's average tilt, which every
// speech frame shares and which would make any two frames look alike).
func spectra(s []int16) ([][specBands]float64, []float64) {
	n := len(s) / specFrame
	feats := make([][specBands]float64, n)
	energy := make([]float64, n)
	var win [specFrame]float64
	for k := range win {
		win[k] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(k)/specFrame)
	}
	x := make([]float64, specFrame)
	for f := 0; f < n; f++ {
		fr := s[f*specFrame : (f+1)*specFrame]
		tot := 1.0
		for k, v := range fr {
			x[k] = float64(v) * win[k]
			tot += float64(v) * float64(v)
		}
		energy[f] = math.Log10(tot)
		var mean float64
		for b, probes := range dft.bands {
			e := 1.0
			for _, p := range probes {
				var re, im float64
				for k, v := range x {
					re += v * p.cos[k]
					im -= v * p.sin[k]
				}
				e += re*re + im*im
			}
			feats[f][b] = math.Log10(e)
			mean += feats[f][b]
		}
		mean /= specBands
		for b := range feats[f] {
			feats[f][b] -= mean
		}
	}
	loud := 0.0
	for _, e := range energy {
		loud = max(loud, e)
	}
	var avg [specBands]float64
	cnt := 0
	for f := range feats {
		if energy[f] >= loud-2 {
			cnt++
			for b := range avg {
				avg[b] += feats[f][b]
			}
		}
	}
	if cnt > 0 {
		for f := range feats {
			for b := range feats[f] {
				feats[f][b] -= avg[b] / float64(cnt)
			}
		}
	}
	return feats, energy
}

type probe struct{ cos, sin [specFrame]float64 }

// dft holds the frequencies each band sums, with their sine and cosine
// tables (computed once: the direct sums are the measure's whole cost).
var dft = func() (d struct{ bands [specBands][]probe }) {
	edges := bandEdges()
	for b := range d.bands {
		for _, hz := range bandProbes(edges[b], edges[b+1]) {
			var p probe
			w := 2 * math.Pi * hz / 16000
			for k := range p.cos {
				p.cos[k], p.sin[k] = math.Cos(w*float64(k)), math.Sin(w*float64(k))
			}
			d.bands[b] = append(d.bands[b], p)
		}
	}
	return d
}()

// bandEdges are specBands+1 edges from 100 Hz to 7 kHz, evenly spaced on
// the mel scale.
func bandEdges() []float64 {
	mel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
	hz := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	lo, hi := mel(100), mel(7000)
	e := make([]float64, specBands+1)
	for i := range e {
		e[i] = hz(lo + (hi-lo)*float64(i)/specBands)
	}
	return e
}

// bandProbes are the frequencies summed for a band: the DFT's 50 Hz
// resolution at 20 ms, at most 6 per band.
func bandProbes(lo, hi float64) []float64 {
	var p []float64
	step := max((hi-lo)/6, 50)
	for f := lo + step/2; f < hi; f += step {
		p = append(p, f)
	}
	return p
}

// corr is the Pearson correlation of two band vectors (already mean
// free).
func corr(a, b [specBands]float64) float64 {
	var ab, aa, bb float64
	for k := range a {
		ab += a[k] * b[k]
		aa += a[k] * a[k]
		bb += b[k] * b[k]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
