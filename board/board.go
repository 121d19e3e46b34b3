// Package board is the handset's hardware other than the sound card and
// the GNSS receiver: keys (PTT, group up/down, volume), LEDs and the
// battery, each behind an interface of one or two methods so the agent
// never knows whether a key is an input device, a GPIO line or a
// technician's bench socket. Fakes live in board/boardtest.
//
// Keys are edge-triggered everywhere: the kernel wakes the reader when a
// key changes, so a press reaches the agent in microseconds instead of the
// 150–500 ms polling periods of other open-source PTT clients.
package board

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KeyName is what a key does, not where it is wired.
type KeyName string

const (
	PTT        KeyName = "ptt"
	GroupUp    KeyName = "group_up"
	GroupDown  KeyName = "group_down"
	VolumeUp   KeyName = "volume_up"
	VolumeDown KeyName = "volume_down"
	// SOS raises (and cancels) an emergency alert, held down for a while
	// (LongPress), so that a knock does not.
	SOS KeyName = "sos"
)

// KnownKeys are the names the agent acts on.
var KnownKeys = []KeyName{PTT, GroupUp, GroupDown, VolumeUp, VolumeDown, SOS}

// KeyEvent is one edge of one key.
type KeyEvent struct {
	Key  KeyName
	Down bool
	// Time is when the hardware saw the edge (the kernel's timestamp where
	// there is one), so latency measurements start at the finger.
	Time time.Time
}

func (e KeyEvent) String() string {
	dir := "up"
	if e.Down {
		dir = "down"
	}
	return fmt.Sprintf("%s %s at %s", e.Key, dir, e.Time.Format("15:04:05.000000"))
}

// Key is a source of key edges. One Key may report several named keys (an
// input device with PTT and volume buttons, a GPIO chip with several lines).
type Key interface {
	// Run sends every edge to events until ctx ends; it returns ctx.Err()
	// then, or an error that retrying will not cure (bad configuration).
	// A key held when its device vanishes is reported released.
	Run(ctx context.Context, events chan<- KeyEvent) error
}

// LED is one indicator.
type LED interface {
	// Set turns the LED on or off (and stops blinking).
	Set(on bool) error
	// Blink flashes the LED on for on and off for off, in hardware where
	// the LED supports it.
	Blink(on, off time.Duration) error
}

// Battery reports the charge.
type Battery interface {
	Read() (BatteryStatus, error)
}

// BatteryStatus is one reading.
type BatteryStatus struct {
	// Percent is the charge, 0–100, or -1 when the battery does not say.
	Percent int
	// Charging is true while charging or full on external power.
	Charging bool
	// Status is the kernel's word: Charging, Discharging, Full, Not charging, Unknown.
	Status string
}

// ErrNoDevice is wrapped by errors about a device that is not there.
var ErrNoDevice = errors.New("no such device")

// DeviceError carries the operation and the device of a hardware failure.
type DeviceError struct {
	Op     string // "open", "read", "grab", "request lines", …
	Device string
	Err    error
}

func (e *DeviceError) Error() string { return e.Op + " " + e.Device + ": " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }
