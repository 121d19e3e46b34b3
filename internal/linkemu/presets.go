package linkemu

import (
	"fmt"
	"math"
	"time"
)

// The cellular test matrix, one Profile per row, for both directions. A row
// gives the round-trip time a small packet sees (its median) and the
// standard deviation of that time. Assign a preset to a variable before
// changing a field, to leave the preset as it is.
var (
	// Clean is a perfect link: no delay, no loss, no limit.
	Clean = Profile{}
	// LTE is a good 4G cell: RTT 60 ms, σ 10 ms, 0.5 % loss each way.
	LTE = cellular(60*time.Millisecond, 10*time.Millisecond, 0.005, 0)
	// ThreeGPoor is weak 3G coverage: RTT 200 ms, σ 40 ms, 2 % loss each way.
	ThreeGPoor = cellular(200*time.Millisecond, 40*time.Millisecond, 0.02, 0)
	// CellEdge is the edge of a cell: RTT 300 ms, σ 75 ms, 5 % loss, and
	// 64 kbit/s each way behind the default queue (four full packets, 700
	// ms). At that rate a packet's own airtime adds to its RTT: 12.5 ms
	// each way per 100 bytes.
	CellEdge = cellular(300*time.Millisecond, 75*time.Millisecond, 0.05, 64_000)
)

// presets are the names Preset knows, for command lines.
var presets = []struct {
	name string
	p    *Profile
}{
	{"clean", &Clean},
	{"4g", &LTE},
	{"3g-poor", &ThreeGPoor},
	{"cell-edge", &CellEdge},
}

// Preset returns the preset with a command-line name: "clean", "4g",
// "3g-poor" or "cell-edge".
func Preset(name string) (Profile, error) {
	var names []string
	for _, p := range presets {
		if p.name == name {
			return *p.p, nil
		}
		names = append(names, p.name)
	}
	return Profile{}, fmt.Errorf("link preset %q: want one of %q", name, names)
}

// medianHalfNormalSum is the median of |X|+|Y| for independent standard
// normal X and Y, found numerically (no closed form): the median jitter a
// round trip collects over two directions with σ = 1.
const medianHalfNormalSum = 1.4875

// cellular makes the Profile for a matrix row. Jitter only ever adds delay
// (the absolute value of a normal sample), so the RTT's spread and median
// do not follow from Delay and Jitter as they would for a plain normal:
//   - |X| has standard deviation σ√(1−2/π), so two directions with
//     Jitter σ spread the RTT by σ√(2(1−2/π)) ≈ 0.85σ; Jitter is the
//     row's σ divided by that factor;
//   - the two jitters add medianHalfNormalSum·Jitter to the median RTT;
//     Delay is half of what remains of the row's RTT.
//
// The figures hold for packets spaced wider than the jitter; closer
// packets queue behind late ones (no reordering) and see more delay.
func cellular(rtt, sigma time.Duration, loss float64, rate int64) Profile {
	jitter := float64(sigma) / math.Sqrt(2*(1-2/math.Pi))
	delay := (float64(rtt) - medianHalfNormalSum*jitter) / 2
	p := Profile{
		Delay:  time.Duration(delay).Round(100 * time.Microsecond),
		Jitter: time.Duration(jitter).Round(100 * time.Microsecond),
		Loss:   loss,
		Rate:   rate,
	}
	if rate > 0 {
		p.QueueBytes = int(p.queueLimit())
	}
	return p
}
