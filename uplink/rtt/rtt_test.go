package rtt

import (
	"testing"
	"time"
)

// RFC 6298 §2: the first sample sets SRTT = R and RTTVAR = R/2; each
// next one moves RTTVAR a quarter of the way to |SRTT − R| and SRTT an
// eighth of the way to R.
func TestEstimator(t *testing.T) {
	var e Estimator
	if _, _, ok := e.Get(); ok {
		t.Fatal("ok before a sample")
	}
	e.Add(200 * time.Millisecond)
	if s, v, ok := e.Get(); !ok || s != 200*time.Millisecond || v != 100*time.Millisecond {
		t.Fatalf("after one sample: %v ± %v", s, v)
	}
	e.Add(120 * time.Millisecond)
	if s, v, _ := e.Get(); v != 95*time.Millisecond || s != 190*time.Millisecond {
		t.Fatalf("after two: %v ± %v, want 190ms ± 95ms", s, v)
	}
	for range 100 { // a steady link: the variation decays towards 0
		e.Add(150 * time.Millisecond)
	}
	if s, v, _ := e.Get(); v > time.Millisecond || (s-150*time.Millisecond).Abs() > time.Millisecond {
		t.Fatalf("after a steady link: %v ± %v", s, v)
	}
}
