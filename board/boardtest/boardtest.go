// Package boardtest has fakes of the board interfaces for tests of the
// parts that use them: driven through channels, stamped by an injectable
// clock.
package boardtest

import (
	"context"
	"sync"
	"time"

	"github.com/pttagent/pttagent/board"
)

// Key is a fake board.Key: what is sent with Press, Release or Send comes
// out of Run.
type Key struct {
	// Now stamps Press and Release (time.Now when nil).
	Now func() time.Time
	ch  chan board.KeyEvent
	err chan error
}

var _ board.Key = (*Key)(nil)

func NewKey() *Key {
	return &Key{ch: make(chan board.KeyEvent), err: make(chan error, 1)}
}

func (k *Key) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Press sends a press of name; it blocks until Run has taken it.
func (k *Key) Press(name board.KeyName) { k.Send(board.KeyEvent{Key: name, Down: true, Time: k.now()}) }

// Release sends a release of name.
func (k *Key) Release(name board.KeyName) { k.Send(board.KeyEvent{Key: name, Time: k.now()}) }

// Send sends ev as is.
func (k *Key) Send(ev board.KeyEvent) { k.ch <- ev }

// Fail makes Run return err.
func (k *Key) Fail(err error) { k.err <- err }

func (k *Key) Run(ctx context.Context, events chan<- board.KeyEvent) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-k.err:
			return err
		case ev := <-k.ch:
			select {
			case events <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// LEDState is one thing done to a fake LED.
type LEDState struct {
	On      bool
	Blink   bool
	OnTime  time.Duration
	OffTime time.Duration
	At      time.Time
}

// LED is a fake board.LED; every change is also sent on Changes (buffered,
// dropped when full).
type LED struct {
	Now     func() time.Time
	Changes chan LEDState
	mu      sync.Mutex
	state   LEDState
}

var _ board.LED = (*LED)(nil)

func NewLED() *LED { return &LED{Changes: make(chan LEDState, 64)} }

func (l *LED) set(s LEDState) error {
	if l.Now != nil {
		s.At = l.Now()
	} else {
		s.At = time.Now()
	}
	l.mu.Lock()
	l.state = s
	l.mu.Unlock()
	select {
	case l.Changes <- s:
	default:
	}
	return nil
}

func (l *LED) Set(on bool) error { return l.set(LEDState{On: on}) }
func (l *LED) Blink(on, off time.Duration) error {
	return l.set(LEDState{On: true, Blink: true, OnTime: on, OffTime: off})
}

// State is the LED's current state.
func (l *LED) State() LEDState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Battery is a fake board.Battery whose reading the test sets.
type Battery struct {
	mu  sync.Mutex
	st  board.BatteryStatus
	err error
}

var _ board.Battery = (*Battery)(nil)

func NewBattery(percent int) *Battery {
	return &Battery{st: board.BatteryStatus{Percent: percent, Status: "Discharging"}}
}

// Set changes what Read returns.
func (b *Battery) Set(st board.BatteryStatus, err error) {
	b.mu.Lock()
	b.st, b.err = st, err
	b.mu.Unlock()
}

func (b *Battery) Read() (board.BatteryStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st, b.err
}
