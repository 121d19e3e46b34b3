package linkemu

import (
	"math"
	"slices"
	"testing"
	"time"
)

// The presets' Delay and Jitter give the matrix's RTT median and spread
// for packets spaced wider than the jitter, as cellular() promises.
func TestPresetsMatchMatrix(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rtt, sigma time.Duration
		loss       float64
	}{
		{"clean", 0, 0, 0},
		{"4g", 60 * time.Millisecond, 10 * time.Millisecond, 0.005},
		{"3g-poor", 200 * time.Millisecond, 40 * time.Millisecond, 0.02},
		{"cell-edge", 300 * time.Millisecond, 75 * time.Millisecond, 0.05},
	} {
		p, err := Preset(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Loss != tc.loss {
			t.Errorf("%s: Loss %v, want %v", tc.name, p.Loss, tc.loss)
		}
		// A round trip is a packet through one direction and its answer
		// through the other; the Rate's airtime is left out (Rate 0).
		p.Loss, p.Rate = 0, 0
		down, up := newModel(p, 1, 0), newModel(p, 1, 1)
		const n = 50_000
		rtts := make([]float64, n)
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second) // far apart
			down.arrive(at, []byte{0})
			back, _ := down.next()
			down.pop(back)
			up.arrive(back, []byte{0})
			done, _ := up.next()
			up.pop(done)
			rtts[i] = float64(done.Sub(at))
		}
		slices.Sort(rtts)
		median := time.Duration(rtts[n/2])
		var sum, sq float64
		for _, r := range rtts {
			sum += r
		}
		mean := sum / n
		for _, r := range rtts {
			sq += (r - mean) * (r - mean)
		}
		sd := time.Duration(math.Sqrt(sq / n))
		t.Logf("%s: Delay %v Jitter %v → RTT median %v σ %v", tc.name, p.Delay, p.Jitter, median.Round(10*time.Microsecond), sd.Round(10*time.Microsecond))
		if d := median - tc.rtt; d.Abs() > time.Millisecond {
			t.Errorf("%s: RTT median %v, want %v", tc.name, median, tc.rtt)
		}
		if d := sd - tc.sigma; d.Abs() > time.Millisecond {
			t.Errorf("%s: RTT σ %v, want %v", tc.name, sd, tc.sigma)
		}
	}
	if p, _ := Preset("cell-edge"); p.Rate != 64_000 || p.QueueBytes != 4*MTU {
		t.Errorf("cell-edge: Rate %d QueueBytes %d, want 64000 and four packets", p.Rate, p.QueueBytes)
	}
	if _, err := Preset("5g"); err == nil {
		t.Error(`Preset("5g") found a profile`)
	}
}
