package ptt

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// feed gives the guard n packets of burst 1, one every 60 ms of capture,
// each arriving delay(i) after its capture, released in order as a
// radio link does; it returns the packet that tripped it, or -1.
func feed(g *queueGuard, n int, delay func(i int) time.Duration) int {
	const offset = 5_000_000 // the two clocks disagree by 5 s: it cancels out
	var prev int64
	tripped := -1
	for i := range n {
		capture := int64(i) * 60_000
		arrive := max(capture+delay(i).Microseconds(), prev)
		prev = arrive
		if g.observe(1, arrive+offset-capture, arrive+offset) && tripped < 0 {
			tripped = i
		}
	}
	return tripped
}

func TestQueueGuard(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		delay func(i int) time.Duration
		trip  [2]int // the packet that trips it, within; {-1,-1}: never
	}{
		// linkemu's jitter: a half-normal delay on top of the least,
		// σ of the round trip's spread 40 ms (3G poor) and 75 ms (cell
		// edge), so ~47 and ~88 ms each way.
		{"3G jitter", func(int) time.Duration {
			return 80*time.Millisecond + time.Duration(math.Abs(rng.NormFloat64())*47)*time.Millisecond
		}, [2]int{-1, -1}},
		{"cell-edge jitter", func(int) time.Duration {
			return 120*time.Millisecond + time.Duration(math.Abs(rng.NormFloat64())*88)*time.Millisecond
		}, [2]int{-1, -1}},
		{"a 1.5 s handover stall", func(i int) time.Duration {
			if i >= 50 && i < 75 { // held until the link comes back at packet 75's capture
				return time.Duration(75-i)*60*time.Millisecond + 80*time.Millisecond
			}
			return 80 * time.Millisecond
		}, [2]int{-1, -1}},
		{"a TCP retransmission every 3 s", func(i int) time.Duration {
			if i%50 == 20 {
				return 80*time.Millisecond + 260*time.Millisecond
			}
			return 80 * time.Millisecond
		}, [2]int{-1, -1}},
		// 70 kbit/s into a 64 kbit/s link: ~10 ms more each packet.
		{"a queue growing 10 ms a packet", func(i int) time.Duration {
			return 150*time.Millisecond + time.Duration(i)*10*time.Millisecond
		}, [2]int{10, 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g queueGuard
			got := feed(&g, 2000, tc.delay) // two minutes of speech
			if tc.trip[0] < 0 && got >= 0 {
				t.Fatalf("tripped at packet %d", got)
			}
			if tc.trip[0] >= 0 && (got < tc.trip[0] || got > tc.trip[1]) {
				t.Fatalf("tripped at packet %d, want %d–%d", got, tc.trip[0], tc.trip[1])
			}
		})
	}
}

// The guard sits on the receive path: nothing allocated.
func TestQueueGuardAllocatesNothing(t *testing.T) {
	var g queueGuard
	var now int64
	if n := testing.AllocsPerRun(1000, func() {
		now += 60_000
		g.observe(7, 80_000, now)
	}); n != 0 {
		t.Errorf("%v allocations a packet", n)
	}
}
