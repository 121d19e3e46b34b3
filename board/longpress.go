package board

import (
	"context"
	"time"
)

// LongPress returns a Key that reports key name only when it is held for
// hold: its press comes out hold after the key went down (stamped then),
// its release when the key comes up; a shorter press is not reported at
// all. Other keys pass through unchanged. An emergency key wants this: a
// knock in a pocket must not raise an alarm, and a user who holds it
// knows it was meant.
func LongPress(k Key, name KeyName, hold time.Duration) Key {
	if hold <= 0 {
		return k
	}
	return &longPress{in: k, name: name, hold: hold}
}

type longPress struct {
	in   Key
	name KeyName
	hold time.Duration
}

func (k *longPress) Run(ctx context.Context, events chan<- KeyEvent) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	raw := make(chan KeyEvent, 16)
	errc := make(chan error, 1)
	go func() { errc <- k.in.Run(ctx, raw) }()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		down  bool      // the key is down
		fired bool      // its long press was reported
		due   time.Time // when the press becomes a long one
	)
	for {
		select {
		case err := <-errc:
			return err
		case ev := <-raw:
			switch {
			case ev.Key != k.name:
				send(ctx, events, ev)
			case ev.Down && !down:
				// The schedule follows this clock, not the edge's stamp,
				// which may come from another (the kernel's).
				down, fired, due = true, false, time.Now().Add(k.hold)
				timer.Reset(k.hold)
			case !ev.Down && down:
				down = false
				timer.Stop()
				if fired {
					send(ctx, events, ev)
				}
			}
		case <-timer.C:
			if down && !fired {
				fired = true
				send(ctx, events, KeyEvent{Key: k.name, Down: true, Time: due})
			}
		}
	}
}
