package media

import (
	"testing"
	"time"
)

// RFC 6298 §2: the first sample sets SRTT = R and RTTVAR = R/2; each
// next one moves RTTVAR a quarter of the way to |SRTT − R| and SRTT an
// eighth of the way to R.
func TestRoundTripEstimator(t *testing.T) {
	var r roundTrip
	r.add(200 * time.Millisecond)
	if r.srtt != 200*time.Millisecond || r.rttvar != 100*time.Millisecond {
		t.Fatalf("after one sample: %v ± %v", r.srtt, r.rttvar)
	}
	r.add(120 * time.Millisecond)
	if r.rttvar != 95*time.Millisecond || r.srtt != 190*time.Millisecond {
		t.Fatalf("after two: %v ± %v, want 190ms ± 95ms", r.srtt, r.rttvar)
	}
	for range 100 { // a steady link: the variation decays towards 0
		r.add(150 * time.Millisecond)
	}
	if r.rttvar > time.Millisecond || (r.srtt-150*time.Millisecond).Abs() > time.Millisecond {
		t.Fatalf("after a steady link: %v ± %v", r.srtt, r.rttvar)
	}
}
