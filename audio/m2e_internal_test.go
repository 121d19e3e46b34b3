package audio

import (
	"testing"
	"time"
)

func TestMouthToEarQuantiles(t *testing.T) {
	var h mouthToEar
	if h.quantile(0.95) != 0 {
		t.Fatal("no samples: want 0")
	}
	// 100 frames at 100–199 ms, and 5 beyond the histogram.
	for i := range 100 {
		h.add(time.Duration(100+i) * time.Millisecond)
	}
	for range 5 {
		h.add(time.Hour)
	}
	h.add(-time.Second) // a clock behind the sender's: counted as 0
	if p50 := h.quantile(0.5); p50 < 145 || p50 > 155 {
		t.Errorf("p50 %.0f ms, want about 150", p50)
	}
	if p95 := h.quantile(0.95); p95 < 195 || p95 > 200 {
		t.Errorf("p95 %.0f ms, want about 196", p95)
	}
	if p99 := h.quantile(0.99); p99 != 3000 {
		t.Errorf("p99 %.0f ms, want the last bucket's 3000", p99)
	}
	if h.n != 106 {
		t.Errorf("%d samples", h.n)
	}
}
