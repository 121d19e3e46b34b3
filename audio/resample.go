package audio

// Resample converts mono 16-bit audio from one rate to another by linear
// interpolation. It is for prompts and test signals (espeak-ng speaks at
// 22 050 Hz), not for the voice path, which never resamples.
func Resample(in []int16, from, to int) []int16 {
	if from == to || len(in) == 0 {
		return append([]int16(nil), in...)
	}
	n := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		k := int(pos)
		frac := pos - float64(k)
		a := float64(in[k])
		b := a
		if k+1 < len(in) {
			b = float64(in[k+1])
		}
		out[i] = int16(a + (b-a)*frac)
	}
	return out
}
