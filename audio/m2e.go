package audio

import "time"

// mouthToEar is a histogram of how long after its capture each received
// frame is heard (3GPP MCPTT's mouth-to-ear KPI: < 300 ms for 95 % of
// frames), in 5 ms buckets up to 3 s: fixed size, no allocation per frame.
// The capture time is the sender's clock, so the figure is as good as the
// two clocks agree (NTP on handsets; one clock in the tests).
type mouthToEar struct {
	b [600]uint32
	n uint64
}

const m2eBucket = 5 * time.Millisecond

func (h *mouthToEar) add(d time.Duration) {
	i := int(max(d, 0) / m2eBucket)
	h.b[min(i, len(h.b)-1)]++
	h.n++
}

// quantile q (0–1) in ms, the bucket's upper edge; 0 without samples.
func (h *mouthToEar) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	want := uint64(q*float64(h.n) + 0.5)
	var sum uint64
	for i, c := range h.b {
		sum += uint64(c)
		if sum >= max(want, 1) {
			return float64(time.Duration(i+1)*m2eBucket) / float64(time.Millisecond)
		}
	}
	return float64(time.Duration(len(h.b))*m2eBucket) / float64(time.Millisecond)
}
