package uplink

import (
	"testing"
	"time"
)

// The window grows while batches come back well within the ack timeout,
// holds while the link is busy, and halves (then the batch size halves)
// when nothing came back in time.
func TestPace(t *testing.T) {
	const ackTimeout = 30 * time.Second
	type step struct {
		ack     time.Duration // a batch acknowledged after this round trip; 0: an ack timeout
		limit   int           // the window after the step
		points  int           // the batch size after the step
		comment string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a fast link opens the window to its maximum", []step{
			{ack: time.Second, limit: 2, points: 50},
			{ack: time.Second, limit: 3, points: 50},
			{ack: time.Second, limit: 4, points: 50},
			{ack: time.Second, limit: 4, points: 50, comment: "max_inflight"},
		}},
		{"a slow link holds the window where a round trip nears half the timeout", []step{
			{ack: 10 * time.Second, limit: 2, points: 50},
			{ack: 20 * time.Second, limit: 2, points: 50},
			{ack: 21 * time.Second, limit: 2, points: 50},
		}},
		{"timeouts halve the window, then the batches", []step{
			{ack: time.Second, limit: 2, points: 50},
			{ack: time.Second, limit: 3, points: 50},
			{ack: time.Second, limit: 4, points: 50},
			{limit: 2, points: 50},
			{limit: 1, points: 50},
			{limit: 1, points: 25},
			{limit: 1, points: 12},
			{limit: 1, points: 6},
			{limit: 1, points: 3},
			{limit: 1, points: 1},
			{limit: 1, points: 1, comment: "never below one point"},
			{ack: 40 * time.Second, limit: 1, points: 1, comment: "a late PUBACK is no reason to grow"},
			{ack: 5 * time.Second, limit: 1, points: 2, comment: "the batches grow back first"},
			{ack: 5 * time.Second, limit: 1, points: 4},
			{ack: 5 * time.Second, limit: 1, points: 8},
			{ack: 5 * time.Second, limit: 1, points: 16},
			{ack: 5 * time.Second, limit: 1, points: 32},
			{ack: 5 * time.Second, limit: 1, points: 50},
			{ack: 5 * time.Second, limit: 2, points: 50},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPace(4, 50)
			for i, s := range tc.steps {
				if s.ack > 0 {
					p.acked(s.ack, ackTimeout)
				} else {
					p.timedOut()
				}
				if p.limit != s.limit || p.points != s.points {
					t.Fatalf("step %d (%s): window %d × %d points, want %d × %d", i, s.comment, p.limit, p.points, s.limit, s.points)
				}
			}
		})
	}
}
