package gps

import (
	"context"
	"sync"
	"sync/atomic"
)

// deliverQueue is how many fixes wait for a slow consumer. A read from the
// port can complete several cycles at once (a backlog, a burst after a
// stall), so a queue of one would drop fixes a prompt consumer still wants;
// a long one would hand a consumer that fell behind fixes from long ago.
const deliverQueue = 4

// deliverer hands fixes to a consumer in order without ever blocking the
// reader: it holds the newest deliverQueue fixes, and drops the oldest when
// a new one arrives and the queue is full.
type deliverer struct {
	mu      sync.Mutex
	q       [deliverQueue]Fix
	head, n int
	first   uint64 // sequence number of q[head]
	wake    chan struct{}
	dropped atomic.Uint64
}

func newDeliverer() *deliverer { return &deliverer{wake: make(chan struct{}, 1)} }

// put queues f, dropping the oldest fix if the queue is full.
func (d *deliverer) put(f Fix) {
	d.mu.Lock()
	if d.n == len(d.q) {
		d.pop()
		d.dropped.Add(1)
	}
	d.q[(d.head+d.n)%len(d.q)] = f
	d.n++
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deliverer) pop() {
	d.head = (d.head + 1) % len(d.q)
	d.n--
	d.first++
}

// run sends queued fixes on out until ctx is done. The fix being offered
// stays in the queue until taken, so that put can still drop it if the
// consumer is too slow.
func (d *deliverer) run(ctx context.Context, out chan<- Fix) {
	for {
		d.mu.Lock()
		if d.n == 0 {
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		f, seq := d.q[d.head], d.first
		d.mu.Unlock()
		select {
		case out <- f:
			d.mu.Lock()
			if d.first == seq {
				d.pop()
			} else {
				// put dropped it while we offered it, but it was taken
				// after all.
				d.dropped.Add(^uint64(0))
			}
			d.mu.Unlock()
		case <-d.wake:
			// The queue changed: offer its head again.
		case <-ctx.Done():
			return
		}
	}
}
