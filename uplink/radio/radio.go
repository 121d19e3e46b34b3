// Package radio follows when the handset's cellular radio is awake. Each
// link reports its traffic (Used); a part whose traffic can wait — track
// points held to share a message, a platform poll — sends it while the
// radio is awake anyway (Awake, Woke) instead of waking it on its own.
//
// On LTE a packet after about 10 s of silence moves the radio from idle
// to its high-power state, where it stays until 10 s (the RRC tail) after
// the last packet: traffic that follows other traffic within seconds
// costs its bytes only; traffic at a moment of its own costs a wake-up
// and a whole tail (internal/linkmeter measures both).
//
// Voice comes first: while a burst is heard or sent (SetVoice), traffic
// that can wait waits for it to end (VoiceDone). At a cell edge's 64
// kbit/s a platform sync's few kilobytes ahead of a burst's first second
// queue that voice by half a second.
package radio

import (
	"sync"
	"sync/atomic"
	"time"
)

// Radio is safe for concurrent use; a nil *Radio is a radio nobody
// watches: Used does nothing, Awake is false, Woke never fires.
type Radio struct {
	last    atomic.Int64 // UnixNano of the last traffic
	waiting atomic.Bool  // someone holds woke

	mu   sync.Mutex
	woke chan struct{}
	// voice is open while voice flows (SetVoice), closed when it stops;
	// nil when none flows.
	voice chan struct{}
}

// SetVoice says whether voice flows now: a burst being heard or sent.
func (r *Radio) SetVoice(on bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case on && r.voice == nil:
		r.voice = make(chan struct{})
	case !on && r.voice != nil:
		close(r.voice)
		r.voice = nil
	}
}

// VoiceDone is nil when no voice flows, else a channel closed when it
// stops: what traffic that can wait waits for.
func (r *Radio) VoiceDone() <-chan struct{} {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.voice // a nil channel when no voice flows
}

// Used records traffic now. It is cheap (an atomic store) unless a part
// waits for the radio.
func (r *Radio) Used() {
	if r == nil {
		return
	}
	r.last.Store(time.Now().UnixNano())
	if !r.waiting.Load() {
		return
	}
	r.mu.Lock()
	if r.woke != nil {
		close(r.woke)
		r.woke = nil
	}
	r.waiting.Store(false)
	r.mu.Unlock()
}

// Last is when traffic was last recorded (zero: never).
func (r *Radio) Last() time.Time {
	if r == nil {
		return time.Time{}
	}
	if n := r.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Awake reports whether traffic passed within the last d: sending now
// extends the high state by at most d instead of waking the radio.
func (r *Radio) Awake(d time.Duration) bool {
	last := r.Last()
	return !last.IsZero() && time.Since(last) < d
}

// Woke returns a channel closed at the next traffic.
func (r *Radio) Woke() <-chan struct{} {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.woke == nil {
		r.woke = make(chan struct{})
	}
	r.waiting.Store(true)
	return r.woke
}
