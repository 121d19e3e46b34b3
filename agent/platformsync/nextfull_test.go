package platformsync

import (
	"testing"
	"time"
)

func TestNextFullIsJitteredTenPercent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		d := nextFull(now, time.Hour, r).Sub(now)
		if d < 54*time.Minute || d > 66*time.Minute {
			t.Errorf("r=%v: next full refresh in %v, want 1h ±10 %%", r, d)
		}
	}
	if lo, hi := nextFull(now, time.Hour, 0), nextFull(now, time.Hour, 0.999999); hi.Sub(lo) < 11*time.Minute {
		t.Errorf("jitter spans %v, want about 12 min", hi.Sub(lo))
	}
	if d := nextFull(now, -1, 0.5).Sub(now); d < 100*365*24*time.Hour {
		t.Errorf("negative period: next full refresh in %v, want never", d)
	}
}
