package board

import (
	"context"
	"time"
)

// Debounce returns a Key that reports each key's first edge at once and
// then ignores its bounces for d; if the key ended in the other state when d
// is over, that edge is reported then. A press therefore costs no latency,
// contact bounce never reaches the floor machine, and the last state always
// does.
func Debounce(k Key, d time.Duration) Key {
	if d <= 0 {
		return k
	}
	return &debounced{in: k, d: d}
}

type debounced struct {
	in Key
	d  time.Duration
}

type debounceState struct {
	reported  bool      // last state passed on
	raw       KeyEvent  // last edge seen
	lockUntil time.Time // bounces before this are held back
	pending   bool
}

func (k *debounced) Run(ctx context.Context, events chan<- KeyEvent) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	raw := make(chan KeyEvent, 16)
	errc := make(chan error, 1)
	go func() { errc <- k.in.Run(ctx, raw) }()

	keys := map[KeyName]*debounceState{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	rearm := func(now time.Time) {
		var next time.Time
		for _, s := range keys {
			if s.pending && (next.IsZero() || s.lockUntil.Before(next)) {
				next = s.lockUntil
			}
		}
		if !next.IsZero() {
			timer.Reset(max(0, next.Sub(now)))
		}
	}
	for {
		select {
		case err := <-errc:
			return err
		case ev := <-raw:
			now := time.Now()
			s := keys[ev.Key]
			if s == nil {
				s = &debounceState{}
				keys[ev.Key] = s
			}
			s.raw = ev
			if now.Before(s.lockUntil) {
				s.pending = true
				rearm(now)
				continue
			}
			if ev.Down != s.reported {
				s.reported, s.lockUntil = ev.Down, now.Add(k.d)
				send(ctx, events, ev)
			}
		case <-timer.C:
			now := time.Now()
			for _, s := range keys {
				if !s.pending || now.Before(s.lockUntil) {
					continue
				}
				s.pending = false
				if s.raw.Down != s.reported {
					s.reported, s.lockUntil = s.raw.Down, now.Add(k.d)
					send(ctx, events, s.raw)
				}
			}
			rearm(now)
		}
	}
}
