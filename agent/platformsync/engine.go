// Package platformsync keeps the agent's platform.Model in step with the platform:
// it fetches on start, on every MQTT reconnect, on a pushed event and on a
// poll timer (the fallback when events are lost or disabled); the first
// fetch and then one every FullRefresh read everything, trusting no
// version counter; it applies
// events directly when they say everything, de-duplicates them by msg_id,
// persists the last good model atomically in the state directory and loads
// it at boot, so the handset knows its settings and groups before the
// platform is reachable. A failed or malformed fetch never replaces the
// model it has.
package platformsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	gosync "sync"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// Subscriber is the part of the MQTT client the engine uses
// (*mqtt.Client).
type Subscriber interface {
	Subscribe(filter string, qos byte, h mqtt.Handler)
	State() (up bool, changed <-chan struct{})
}

// Engine runs the sync. Set the fields, then call Load (optional) and Run.
type Engine struct {
	Client  platform.Client
	Dialect string // "corp" or "wapi": a persisted model of another dialect is not loaded
	Account string
	// StatePath is the file of the last good model (state_dir/platform.json).
	StatePath string
	// Poll is the fallback period; failed fetches retry sooner, with
	// backoff, but never later than Poll.
	Poll time.Duration
	// GonePoll is how often a member the platform says is gone asks
	// again, so that it comes back by itself once re-provisioned (no
	// event reaches a member that does not exist); 0: Poll.
	GonePoll time.Duration
	// FullRefresh is how often a fetch reads everything, trusting none of
	// the platform's versions (the seeds never say when they move), ±10 %.
	// It is done by the first fetch after it is due — poll, reconnect or
	// event — so it costs no wake-up of its own. The first fetch after
	// start is always full: persisted versions are not trusted until the
	// platform has confirmed them. 0: DefaultFullRefresh; < 0: only that
	// first one.
	FullRefresh time.Duration
	// MQTT, with EventTopic set, delivers events and reconnect news; nil
	// means poll only.
	MQTT       Subscriber
	EventTopic string
	// OnChange is called (from Run's goroutine) whenever the model
	// changes, and once at start with the persisted model.
	OnChange func(old, new *platform.Model)
	// OnEvent, if set, sees each new (not duplicate) event first, on Run's
	// goroutine; it returns true for events that are not about the model
	// (a text message for a group), which are then neither applied nor
	// answered with a fetch. It must not block.
	OnEvent func(ev wire.Event) bool
	Logger  *slog.Logger

	mu      gosync.Mutex
	model   *platform.Model
	changed chan struct{}
	active  int64
	stats   Stats
	loaded  bool

	initOnce gosync.Once
	events   chan wire.Event
	overflow chan struct{}
	seen     map[int64]bool
	seenRing []int64
	seenNext int
	gen      uint64 // bumped (by the loop) whenever an event changes the model
	// fullDue is when the next fetch must be full (zero: the next one).
	fullDue time.Time
}

// DefaultFullRefresh is FullRefresh when unset.
const DefaultFullRefresh = time.Hour

// Stats describe the sync for status and tests.
type Stats struct {
	FromDisk    bool      // the model in use was loaded at boot and not yet confirmed
	LastSync    time.Time // last successful fetch
	LastAttempt time.Time
	LastError   string
	Fetches     int
	Failures    int // failed fetches since the last success
	Events      int // events applied or acted on
	Duplicates  int // events dropped as already seen
	BadEvents   int // events that could not be decoded
	Refetches   int // events that led to a fetch
	FullFetches int // successful fetches that trusted no version
	LastFull    time.Time
}

func (e *Engine) init() {
	e.initOnce.Do(func() {
		if e.Logger == nil {
			e.Logger = slog.Default()
		}
		if e.Poll <= 0 {
			e.Poll = 2 * time.Minute
		}
		if e.FullRefresh == 0 {
			e.FullRefresh = DefaultFullRefresh
		}
		e.changed = make(chan struct{})
		e.events = make(chan wire.Event, 64)
		e.overflow = make(chan struct{}, 1)
		e.seen = map[int64]bool{}
		e.seenRing = make([]int64, 512)
	})
}

// Watch returns the current model (nil before the first load or fetch;
// never modified, share it freely) and a channel closed at the next change.
func (e *Engine) Watch() (*platform.Model, <-chan struct{}) {
	e.init()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.model, e.changed
}

// Model is the current model, or nil.
func (e *Engine) Model() *platform.Model {
	m, _ := e.Watch()
	return m
}

// Stats returns a snapshot.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Active is the group push-to-talk uses: the one chosen with SetActive if
// this member is still in it, else the model's default group (0: none).
func (e *Engine) Active() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.model.Group(e.active) != nil {
		return e.active
	}
	return e.model.DefaultGroup()
}

// SetActive records the user's choice of group.
func (e *Engine) SetActive(gid int64) {
	e.mu.Lock()
	e.active = gid
	e.mu.Unlock()
}

// Load reads the persisted model. A missing file is not an error; an
// unreadable or foreign one is logged and ignored.
func (e *Engine) Load() *platform.Model {
	e.init()
	e.mu.Lock()
	if e.loaded {
		m := e.model
		e.mu.Unlock()
		return m
	}
	e.loaded = true
	e.mu.Unlock()
	m, err := load(e.StatePath, e.Dialect, e.Account)
	switch {
	case err != nil:
		e.Logger.Warn("ignoring the persisted platform state", "file", e.StatePath, "err", err)
		return nil
	case m == nil:
		return nil
	}
	e.mu.Lock()
	e.model = m
	e.stats.FromDisk = true
	e.mu.Unlock()
	e.Logger.Info("loaded the last known platform state", "file", e.StatePath, "fetched", m.Fetched.Format(time.RFC3339),
		"state", m.Self.State, "groups", len(m.Groups))
	return m
}

// Run syncs until ctx is cancelled.
func (e *Engine) Run(ctx context.Context) error {
	e.init()
	if m := e.Load(); m != nil && e.OnChange != nil {
		e.OnChange(nil, m)
	}
	var mqttChanged <-chan struct{}
	if e.MQTT != nil {
		if e.EventTopic != "" {
			e.MQTT.Subscribe(e.EventTopic, 1, e.onMessage)
		}
		_, mqttChanged = e.MQTT.State()
	}
	timer := time.NewTimer(0) // fetch at once
	defer timer.Stop()
	attempt := 0
	// A fetch runs beside the loop: an unreachable platform API (each
	// request may retry for the better part of a minute) must not hold up
	// the events MQTT delivers meanwhile — text messages, settings. One
	// fetch at a time; asking for another while one runs queues one more.
	var (
		results = make(chan fetchResult, 1)
		running bool
		again   string
	)
	fetch := func(why string) {
		if running {
			if again == "" {
				again = why
			}
			return
		}
		running = true
		e.mu.Lock()
		cur := e.model
		e.mu.Unlock()
		gen := e.gen
		full := !time.Now().Before(e.fullDue)
		if full {
			cur = nil // nothing known is trusted: the client reads everything
			why += " (full)"
		}
		go func() {
			next, err := e.load(ctx, cur)
			results <- fetchResult{next: next, err: err, why: why, gen: gen, full: full}
		}()
	}
	defer func() {
		if running {
			<-results // ctx is done: the fetch returns promptly
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-results:
			running = false
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case platform.IsGone(r.err) != nil:
				// An answer, not a failure: the platform says this member
				// is gone. The handset takes it out of service and asks
				// again every poll, so it comes back by itself.
				attempt = 0
				e.gone(platform.IsGone(r.err), r.why)
				resetTimer(timer, cmp.Or(e.GonePoll, e.Poll))
			case r.err != nil:
				attempt++
				wait := min(dial.Backoff(attempt, time.Second, e.Poll), e.Poll)
				e.Logger.Warn("platform sync failed; keeping the last known state", "why", r.why, "err", r.err, "retry_in", wait.Round(time.Millisecond))
				resetTimer(timer, wait)
			case r.gen != e.gen:
				// Events changed the model while this fetch was under way:
				// its answer may predate them. Ask again rather than flip a
				// setting back and forth.
				if again == "" {
					again = r.why
				}
			default:
				attempt = 0
				if r.full {
					e.fullDone(time.Now())
				}
				e.set(r.next, r.why)
				resetTimer(timer, e.Poll)
			}
			if again != "" {
				why := again
				again = ""
				fetch(why)
			}
		case <-timer.C:
			fetch("poll")
		case <-mqttChanged:
			var up bool
			up, mqttChanged = e.MQTT.State()
			if up {
				fetch("reconnect")
			}
		case <-e.overflow:
			fetch("events overflowed")
		case ev := <-e.events:
			if e.handle(ev) {
				e.mu.Lock()
				e.stats.Refetches++
				e.mu.Unlock()
				fetch("event " + ev.MsgType)
			}
		}
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}

// onMessage runs on the MQTT delivery goroutine: decode and hand over.
func (e *Engine) onMessage(topic string, payload []byte) {
	ev, err := wire.DecodeEvent(payload)
	if err != nil {
		e.mu.Lock()
		e.stats.BadEvents++
		e.mu.Unlock()
		e.Logger.Warn("dropping a malformed platform event", "topic", topic, "bytes", len(payload), "err", err)
		// Something happened on the platform; find out what.
		select {
		case e.overflow <- struct{}{}:
		default:
		}
		return
	}
	select {
	case e.events <- ev:
	default:
		select {
		case e.overflow <- struct{}{}:
		default:
		}
	}
}

// handle applies one event; it reports whether a fetch is needed.
func (e *Engine) handle(ev wire.Event) bool {
	if e.seen[ev.MsgID] {
		e.mu.Lock()
		e.stats.Duplicates++
		e.mu.Unlock()
		e.Logger.Debug("duplicate platform event ignored", "msg_id", ev.MsgID, "msg_type", ev.MsgType)
		return false
	}
	if old := e.seenRing[e.seenNext]; old != 0 {
		delete(e.seen, old)
	}
	e.seenRing[e.seenNext] = ev.MsgID
	e.seenNext = (e.seenNext + 1) % len(e.seenRing)
	e.seen[ev.MsgID] = true
	e.mu.Lock()
	e.stats.Events++
	cur := e.model
	e.mu.Unlock()
	e.Logger.Debug("platform event", "msg_id", ev.MsgID, "msg_type", ev.MsgType)
	if e.OnEvent != nil && e.OnEvent(ev) {
		return false
	}
	if cur == nil {
		return true
	}
	next, refetch, err := e.Client.Apply(cur, ev)
	if err != nil {
		e.Logger.Warn("platform event not understood; fetching instead", "msg_id", ev.MsgID, "msg_type", ev.MsgType, "err", err)
	}
	if next != nil && next != cur {
		// Versions may have been cleared to force the fetch: keep them in
		// memory only; the persisted model is only written when content changes.
		e.set(next, "event "+ev.MsgType)
		e.gen++
	}
	return refetch
}

// gone installs the last model with the member's state set to what the
// platform's answer says (deleted, expired, inactive), its versions
// cleared so that the fetch that finds the member again reads
// everything. Without a model (a handset that never synced) there is
// nothing to take out of service but the log says why.
func (e *Engine) gone(g *platform.GoneError, why string) {
	e.mu.Lock()
	cur := e.model
	e.mu.Unlock()
	if cur == nil {
		e.Logger.Warn("the platform has no member for this handset", "why", why, "err", g)
		return
	}
	if cur.Self.State == g.State {
		return
	}
	next := cur.Clone()
	next.Self.State, next.Versions = g.State, platform.Versions{}
	for i := range next.Groups {
		next.Groups[i].MemberVersion = 0
	}
	e.Logger.Warn("the platform says this member is gone", "state", g.State, "why", why, "err", g)
	e.set(next, why)
	e.gen++
}

// fetchResult is what a fetch running beside the loop brings back. gen is
// the event generation the fetch started from.
type fetchResult struct {
	next *platform.Model
	err  error
	why  string
	gen  uint64
	full bool
}

// fullDone schedules the next full fetch after one succeeded at now.
func (e *Engine) fullDone(now time.Time) {
	e.fullDue = nextFull(now, e.FullRefresh, rand.Float64())
	e.mu.Lock()
	e.stats.FullFetches++
	e.stats.LastFull = now
	e.mu.Unlock()
}

// nextFull is when the fetch after a full one at now must be full again:
// every period ±10 % (r in [0, 1) picks where), so that a fleet started
// together does not read everything at the same moment; never for a
// negative period.
func nextFull(now time.Time, period time.Duration, r float64) time.Time {
	if period < 0 {
		return time.Unix(1<<62, 0)
	}
	return now.Add(period + time.Duration((r*0.2-0.1)*float64(period)))
}

// load asks the platform for the model, starting from cur (its versions
// spare unchanged parts). It does not install it.
func (e *Engine) load(ctx context.Context, cur *platform.Model) (*platform.Model, error) {
	e.mu.Lock()
	e.stats.LastAttempt = time.Now()
	e.mu.Unlock()
	next, err := e.Client.Fetch(ctx, cur)
	if err == nil && next == nil {
		err = errors.New("platform returned no model")
	}
	if err == nil {
		err = next.Check()
	}
	e.mu.Lock()
	if err != nil {
		e.stats.Failures++
		e.stats.LastError = err.Error()
	} else {
		e.stats.Fetches++
		e.stats.Failures = 0
		e.stats.LastError = ""
		e.stats.LastSync = time.Now()
		e.stats.FromDisk = false
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return next, nil
}

// set installs a new model: logs what changed, persists it when its content
// changed, and tells the watchers and OnChange.
func (e *Engine) set(next *platform.Model, why string) {
	e.mu.Lock()
	old := e.model
	e.model = next
	e.mu.Unlock()
	if sameContent(old, next) {
		return
	}
	changes := platform.Diff(old, next)
	for _, c := range changes {
		e.Logger.Info("platform change", "change", c, "why", why)
	}
	if err := save(e.StatePath, next); err != nil {
		e.Logger.Warn("cannot persist the platform state; it is kept in memory", "file", e.StatePath, "err", err)
	}
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	if e.OnChange != nil {
		e.OnChange(old, next)
	}
}

// sameContent compares models without the fetch time and versions, which
// change on every poll or event (an applied event clears them, the next
// poll restores them) and say nothing to the user.
func sameContent(a, b *platform.Model) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Groups) != len(b.Groups) {
		return false
	}
	x, y := *a.Clone(), *b.Clone()
	x.Fetched, y.Fetched = time.Time{}, time.Time{}
	x.Versions, y.Versions = platform.Versions{}, platform.Versions{}
	for i := range x.Groups {
		x.Groups[i].MemberVersion, y.Groups[i].MemberVersion = 0, 0
	}
	return reflect.DeepEqual(x, y)
}

// String for logs.
func (s Stats) String() string {
	return fmt.Sprintf("fetches=%d failures=%d events=%d duplicates=%d", s.Fetches, s.Failures, s.Events, s.Duplicates)
}
