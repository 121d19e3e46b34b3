// Package health is the agent's one register of what is wrong with the
// handset. The part that owns a condition reports it — SetUnhealthy when
// it starts (and whenever its detail changes), SetHealthy when it is over
// — and never polls anyone: the MQTT client's state change, the GNSS
// receiver's open or loss, a failed platform fetch, a sound card that
// cannot be opened. Everything that shows health subscribes instead of
// deciding for itself: `pttagent status` and systemd's STATUS= line list
// the visible warnings, the voice prompts say "network lost" and "GPS fix
// acquired", the journal gets one line per change.
//
// A condition becomes a visible warning only once it has held for its
// Warnable's TimeToVisible (a timer, not a polling loop), so a broker
// restart or a receiver under a bridge does not flood the prompts or the
// journal. It clears as soon as its owner reports it healthy: `status`
// never shows a warning beside the good news. An owner whose condition
// flaps around a threshold keeps a band itself (the battery: low at 10 %,
// fine again above 12 % or on the charger).
//
// Adding a condition: declare a Warnable in warnables.go (name, delay, a
// hint that tells the technician what to check), document it in
// docs/status.md, and give the owner the agent's *Tracker (the agent
// assembles every part with it) to call SetUnhealthy/SetHealthy — or Set
// with the error of the operation that failed. The owner is the only
// caller: two parts reporting one warning would undo each other. A nil
// *Tracker accepts every call and reports nothing, for parts run without
// an agent.
package health

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Warnable is a condition the agent can warn about. Declare each once, as
// a package variable; the pointer is its identity.
type Warnable struct {
	// Name is the warning's stable name, in `status --json`, STATUS= and
	// the journal ("uplink-down").
	Name string
	// TimeToVisible is how long the condition must hold before it is
	// shown; 0 shows it at once.
	TimeToVisible time.Duration
	// Hint tells the technician what to check.
	Hint string
	// DependsOn are conditions that explain this one: while one of them
	// is unhealthy this warning is not listed (a receiver that cannot be
	// opened has no fix either; one warning says so). Subscribers still
	// see it in the Snapshot.
	DependsOn []*Warnable
}

// Tracker holds the state of every reported condition. It is safe for
// concurrent use; the zero value is not: use New.
type Tracker struct {
	log *slog.Logger

	mu      sync.Mutex
	conds   map[*Warnable]*cond
	changed chan struct{}
}

type cond struct {
	Condition
	gen   uint64 // bumped whenever the condition turns unhealthy: a stale visibility timer sees it
	timer *time.Timer
}

// New returns an empty tracker that logs visibility changes to log (nil:
// not logged).
func New(log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tracker{log: log, conds: map[*Warnable]*cond{}, changed: make(chan struct{})}
}

// SetUnhealthy reports that w holds, with a detail for humans (the error
// text). Called again while w holds, it only updates the detail.
func (t *Tracker) SetUnhealthy(w *Warnable, detail string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.condLocked(w)
	c.Detail = detail
	if c.Reported && c.Unhealthy {
		return
	}
	now := time.Now()
	c.Reported, c.Unhealthy, c.Since = true, true, now
	c.gen++
	if w.TimeToVisible <= 0 {
		t.showLocked(w, c)
	} else {
		gen := c.gen
		c.timer = time.AfterFunc(w.TimeToVisible, func() { t.visible(w, gen) })
	}
	t.notifyLocked()
}

func (t *Tracker) condLocked(w *Warnable) *cond {
	c := t.conds[w]
	if c == nil {
		c = &cond{}
		t.conds[w] = c
	}
	return c
}

// visible is a visibility timer's end: the condition held long enough.
func (t *Tracker) visible(w *Warnable, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.conds[w]
	if c == nil || c.gen != gen || !c.Unhealthy || c.Visible {
		return
	}
	t.showLocked(w, c)
	t.notifyLocked()
}

func (t *Tracker) showLocked(w *Warnable, c *cond) {
	c.Visible, c.timer = true, nil
	t.log.Warn("health warning", "warning", w.Name, "detail", c.Detail, "hint", w.Hint)
}

// SetHealthy reports that w no longer holds (or never did). A visible
// warning clears at once.
func (t *Tracker) SetHealthy(w *Warnable) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.condLocked(w)
	if c.Reported && !c.Unhealthy {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.Visible {
		t.log.Info("health warning cleared", "warning", w.Name, "after", time.Since(c.Since).Round(time.Millisecond))
	}
	c.Reported, c.Unhealthy, c.Visible, c.Detail, c.Since = true, false, false, "", time.Now()
	t.notifyLocked()
}

// Set is SetHealthy for a nil err, else SetUnhealthy with err's text: for
// owners that report the outcome of each attempt.
func (t *Tracker) Set(w *Warnable, err error) {
	if err == nil {
		t.SetHealthy(w)
	} else {
		t.SetUnhealthy(w, err.Error())
	}
}

func (t *Tracker) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Condition is what the tracker knows of one Warnable.
type Condition struct {
	// Reported: the owner has said something about it. A condition
	// never reported is neither healthy nor unhealthy yet (the receiver
	// has not been opened once).
	Reported  bool
	Unhealthy bool
	// Visible: unhealthy for its TimeToVisible.
	Visible bool
	Detail  string
	// Since is when the condition last turned unhealthy or healthy.
	Since time.Time
}

// Snapshot is the state of every reported condition at one moment.
type Snapshot map[*Warnable]Condition

// Of is w's condition (the zero Condition when never reported).
func (s Snapshot) Of(w *Warnable) Condition { return s[w] }

// Watch returns the state now and a channel closed at the next change: a
// condition reported for the first time, turning unhealthy or healthy, or
// becoming visible. Changes of a detail alone are not announced (status
// reads them when asked). A subscriber loops on Watch and acts on what
// differs from the last Snapshot it saw; it never misses a state, though
// it may miss a blip between two looks.
func (t *Tracker) Watch() (Snapshot, <-chan struct{}) {
	if t == nil {
		return Snapshot{}, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := make(Snapshot, len(t.conds))
	for w, c := range t.conds {
		s[w] = c.Condition
	}
	return s, t.changed
}

// Warning is a visible warning, as `status` shows it.
type Warning struct {
	Name   string    `json:"name"`
	Detail string    `json:"detail"`
	Since  time.Time `json:"since"`
	Hint   string    `json:"hint,omitempty"`
}

// Warnings lists the visible warnings, by name, leaving out those that
// one of their DependsOn explains. Never nil.
func (t *Tracker) Warnings() []Warning {
	ws := []Warning{}
	if t == nil {
		return ws
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for w, c := range t.conds {
		if !c.Visible || t.explainedLocked(w) {
			continue
		}
		ws = append(ws, Warning{Name: w.Name, Detail: c.Detail, Since: c.Since, Hint: w.Hint})
	}
	slices.SortFunc(ws, func(a, b Warning) int { return strings.Compare(a.Name, b.Name) })
	return ws
}

func (t *Tracker) explainedLocked(w *Warnable) bool {
	for _, d := range w.DependsOn {
		if c := t.conds[d]; c != nil && c.Unhealthy {
			return true
		}
	}
	return false
}

// Visible reports whether w is a visible warning.
func (t *Tracker) Visible(w *Warnable) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.conds[w]
	return c != nil && c.Visible
}
