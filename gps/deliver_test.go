package gps

import (
	"context"
	"testing"
	"time"
)

// Every fix is delivered or counted as dropped exactly once, in order,
// whatever the consumer's pace.
func TestDelivererAccounting(t *testing.T) {
	for _, pace := range []time.Duration{0, 20 * time.Microsecond, time.Millisecond} {
		d := newDeliverer()
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Fix)
		done := make(chan struct{})
		go func() { d.run(ctx, out); close(done) }()
		const n = 2000
		got := make(chan []int, 1)
		go func() {
			var seen []int
			for f := range out {
				seen = append(seen, f.Sats)
				if f.Sats == n-1 {
					break
				}
				time.Sleep(pace)
			}
			got <- seen
		}()
		for i := range n {
			d.put(Fix{Sats: i})
		}
		seen := <-got
		cancel()
		<-done
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("pace %v: fix %d after %d", pace, seen[i], seen[i-1])
			}
		}
		if uint64(len(seen))+d.dropped.Load() != n {
			t.Errorf("pace %v: %d delivered + %d dropped != %d", pace, len(seen), d.dropped.Load(), n)
		}
	}
}
