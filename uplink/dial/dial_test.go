package dial_test

import (
	"testing"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	distinct := map[time.Duration]bool{}
	for n := 0; n < 50; n++ {
		d := dial.Backoff(n, lo, hi)
		want := min(lo<<min(n, 30), hi)
		if d < want/2 || d > want {
			t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
		if n > 10 {
			distinct[d] = true
		}
	}
	if len(distinct) < 10 {
		t.Errorf("no jitter: %d distinct waits at the cap", len(distinct))
	}
}
