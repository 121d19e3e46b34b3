// Package health keeps named warnings with hysteresis: a condition becomes
// a visible warning only after it has held for its delay, and clears only
// after it has been gone for the same delay, so a flapping link or a
// receiver that loses the sky under a bridge does not flood logs, LEDs or
// systemd's STATUS= line.
package health

import (
	"sort"
	"sync"
	"time"
)

// Warning names. Each is documented in docs/status.md.
const (
	GPSAbsent   = "gps-device-absent" // the serial device cannot be opened
	GPSNoFix    = "gps-no-fix"        // no valid fix
	UplinkDown  = "uplink-down"       // not connected to any broker
	QueueBehind = "queue-backlog"     // points waiting for the broker
	DiskFull    = "queue-write-failed"
)

// Tracker is safe for concurrent use.
type Tracker struct {
	mu    sync.Mutex
	delay map[string]time.Duration
	state map[string]*cond
}

type cond struct {
	raw     bool      // the condition as last reported
	since   time.Time // when raw last changed
	visible bool
	detail  string
}

// New creates a tracker; delays maps each warning to its hysteresis delay.
func New(delays map[string]time.Duration) *Tracker {
	return &Tracker{delay: delays, state: map[string]*cond{}}
}

// Set reports whether the condition holds now, with a detail for humans.
// It returns true when the warning's visibility changed.
func (t *Tracker) Set(name string, holds bool, detail string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.state[name]
	if c == nil {
		c = &cond{since: now}
		t.state[name] = c
	}
	if c.raw != holds {
		c.raw, c.since = holds, now
	}
	if holds {
		c.detail = detail
	}
	if c.visible != holds && now.Sub(c.since) >= t.delay[name] {
		c.visible = holds
		return true
	}
	return false
}

// Warning is a visible warning.
type Warning struct {
	Name   string    `json:"name"`
	Detail string    `json:"detail"`
	Since  time.Time `json:"since"`
}

// Warnings lists the visible warnings by name.
func (t *Tracker) Warnings() []Warning {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ws []Warning
	for name, c := range t.state {
		if c.visible {
			ws = append(ws, Warning{Name: name, Detail: c.detail, Since: c.since})
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Name < ws[j].Name })
	return ws
}

// Has reports whether the named warning is visible.
func (t *Tracker) Has(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.state[name]
	return c != nil && c.visible
}
