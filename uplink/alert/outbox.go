// Package alert keeps a handset's emergency messages — the SOS alert and
// its cancel (wire.Emergency) — on disk until the platform has
// acknowledged each, and sends them until it has: through dead zones,
// broker outages, a platform that is down while the broker is up, crashes
// and reboots.
//
// Why not the track queue (uplink/queue): its records are track points,
// numbered and batched, and it drops the oldest when full; an alert must
// never wait behind a backlog of 100 000 points after an outage, never be
// dropped for them, and is done only when the platform — not the broker,
// which drops a message nobody subscribes to — says so. There are a
// handful of these messages in a handset's life, so the store is a
// directory with one small file per message, written atomically
// (temporary file, fsync, rename, fsync of the directory) and removed on
// the platform's acknowledgement: a technician can read it with cat.
package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/regular"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// Link is the part of the broker connection the outbox uses (*mqtt.Client).
type Link interface {
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	Subscribe(filter string, qos byte, h mqtt.Handler)
	State() (up bool, changed <-chan struct{})
}

// MaxPending bounds the messages kept: a user pressing SOS again and
// again in a dead zone must not fill the disk. Beyond it Send refuses
// (ErrFull) and the message is not kept.
const MaxPending = 256

// ErrFull is returned by Send beyond MaxPending.
var ErrFull = errors.New("too many emergency messages waiting")

// Defaults of the wait for the platform's acknowledgement before a
// message goes again: short, since this is an emergency, and doubling so
// that a platform that never answers costs little.
const (
	DefaultRetryMin = 2 * time.Second
	DefaultRetryMax = 30 * time.Second
)

// Outbox is the emergency messages waiting for the platform. Send and
// Stats are safe for concurrent use with Run.
type Outbox struct {
	dir    string
	link   Link
	topics wire.Topics
	log    *slog.Logger
	// RetryMin and RetryMax bound the wait for an acknowledgement before
	// a message is sent again (doubling, jittered).
	RetryMin, RetryMax time.Duration

	sendMu sync.Mutex // one publisher at a time: the messages leave in order
	mu     sync.Mutex
	msgs   map[key]*entry
	wake   chan struct{}
	stats  Stats
}

type key struct {
	id  string
	typ wire.EmergencyType
}

type entry struct {
	msg      wire.Emergency
	attempts int
	due      time.Time // send (again) at or after this; zero: now
	onDisk   bool
}

// Stats count what the outbox did.
type Stats struct {
	Pending  int    // messages waiting for the platform
	Sent     uint64 // publishes (first ones and again)
	Resent   uint64 // of which again: no acknowledgement in time, or the link came back
	Acked    uint64 // acknowledged by the platform
	Bad      uint64 // files found unreadable at start, set aside as *.bad
	NotSaved uint64 // messages that could not be written to disk (kept in memory)
	// LastError is the last failure to write a message.
	LastError string
}

// Open opens the outbox in dir (created if missing) and loads the
// messages a previous run left there.
func Open(dir string, link Link, topics wire.Topics, log *slog.Logger) (*Outbox, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("emergency outbox: %w (create %s or fix its owner)", err, dir)
	}
	o := &Outbox{dir: dir, link: link, topics: topics, log: log, RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax,
		msgs: map[key]*entry{}, wake: make(chan struct{}, 1)}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("emergency outbox: %w", err)
	}
	for _, de := range names {
		name := de.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(path) // a write a crash interrupted: the message was never sent
		case strings.HasSuffix(name, ".json"):
			m, err := load(path)
			if err != nil || name != fileName(m) {
				if err == nil {
					err = fmt.Errorf("holds %s %s", m.Type, m.ID)
				}
				log.Error("emergency message unreadable; set aside", "file", path, "err", err)
				os.Rename(path, path+".bad")
				o.stats.Bad++
				continue
			}
			o.msgs[key{m.ID, m.Type}] = &entry{msg: m, onDisk: true}
		}
	}
	o.stats.Pending = len(o.msgs)
	if n := len(o.msgs); n > 0 {
		log.Warn("emergency messages from before the restart are waiting for the platform", "count", n)
	}
	return o, nil
}

func load(path string) (wire.Emergency, error) {
	b, err := regular.Read(path, wire.MaxEmergencySize, regular.NoLinks)
	if err != nil {
		return wire.Emergency{}, err
	}
	m, err := wire.DecodeEmergency(b)
	if err == nil && m.Type == wire.EmergencyAck {
		err = errors.New("an acknowledgement is not sent")
	}
	return m, err
}

func fileName(m wire.Emergency) string { return m.ID + "." + string(m.Type) + ".json" }

// Send keeps m (an alert or a cancel) until the platform acknowledges it
// and publishes it now if the link is up, so that it leaves ahead of
// whatever the caller publishes next (the floor request of the emergency
// call). A message that cannot be written to disk is sent and retried all
// the same, from memory, and the error says so; a message already waiting
// is not duplicated.
func (o *Outbox) Send(m wire.Emergency) error {
	m.V = 1
	if m.Type != wire.EmergencyAlert && m.Type != wire.EmergencyCancel {
		return fmt.Errorf("emergency outbox: cannot send %q", m.Type)
	}
	if !wire.ValidEmergencyID(m.ID) {
		return fmt.Errorf("emergency outbox: id %q", m.ID)
	}
	k := key{m.ID, m.Type}
	o.mu.Lock()
	if _, dup := o.msgs[k]; dup {
		o.mu.Unlock()
		return nil
	}
	if len(o.msgs) >= MaxPending {
		o.mu.Unlock()
		return fmt.Errorf("emergency outbox: %w (%d)", ErrFull, MaxPending)
	}
	e := &entry{msg: m}
	o.msgs[k] = e
	o.stats.Pending = len(o.msgs)
	o.mu.Unlock()

	werr := writeFile(filepath.Join(o.dir, fileName(m)), m.Encode())
	o.mu.Lock()
	if werr != nil {
		o.stats.NotSaved++
		o.stats.LastError = werr.Error()
	} else if o.msgs[k] == e {
		e.onDisk = true
	} else {
		// Acknowledged while it was being written: nothing to keep.
		os.Remove(filepath.Join(o.dir, fileName(m)))
	}
	o.mu.Unlock()
	o.sendDue(time.Now())
	o.poke()
	if werr != nil {
		return fmt.Errorf("emergency outbox: %w (sent, and retried until the platform has it, but lost if the handset restarts first)", werr)
	}
	return nil
}

// Pending lists the messages waiting, oldest first.
func (o *Outbox) Pending() []wire.Emergency {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]wire.Emergency, 0, len(o.msgs))
	for _, e := range o.ordered() {
		out = append(out, e.msg)
	}
	return out
}

// Stats returns a snapshot.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

// Run receives the platform's acknowledgements and sends every waiting
// message again when it was not acknowledged in time, and at once when
// the link comes back, until ctx ends.
func (o *Outbox) Run(ctx context.Context) error {
	o.link.Subscribe(o.topics.EmergencyCtl(), 1, o.onAck)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wasUp := false
	for {
		up, changed := o.link.State()
		if up && !wasUp {
			o.mu.Lock()
			for _, e := range o.msgs {
				e.due = time.Time{} // the link is back: everything goes now
			}
			o.mu.Unlock()
		}
		wasUp = up
		wait := time.Hour
		if up {
			if next, ok := o.sendDue(time.Now()); ok {
				wait = max(0, time.Until(next))
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-o.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// sendDue publishes, in order, the messages whose time has come, and
// returns when the next one is due.
func (o *Outbox) sendDue(now time.Time) (next time.Time, ok bool) {
	o.sendMu.Lock()
	defer o.sendMu.Unlock()
	up, _ := o.link.State()
	o.mu.Lock()
	var send []wire.Emergency
	for _, e := range o.ordered() {
		if up && !now.Before(e.due) {
			if e.attempts > 0 {
				o.stats.Resent++
			}
			e.due = now.Add(dial.Backoff(e.attempts, o.RetryMin, o.RetryMax))
			e.attempts++
			o.stats.Sent++
			send = append(send, e.msg)
		}
		if !ok || e.due.Before(next) {
			next, ok = e.due, true
		}
	}
	o.mu.Unlock()
	for _, m := range send {
		o.link.Publish(o.topics.Emergency(), 1, false, m.Encode())
		o.log.Info("emergency message sent", "type", m.Type, "id", m.ID, "group", m.Group)
	}
	return next, ok
}

// ordered is the messages oldest first, an alert before its cancel (o.mu
// held).
func (o *Outbox) ordered() []*entry {
	es := make([]*entry, 0, len(o.msgs))
	for _, e := range o.msgs {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if a.msg.TimeMs != b.msg.TimeMs {
			return cmp.Compare(a.msg.TimeMs, b.msg.TimeMs)
		}
		return strings.Compare(string(a.msg.Type), string(b.msg.Type)) // "alert" < "cancel"
	})
	return es
}

// onAck runs on the link's delivery goroutine.
func (o *Outbox) onAck(_ string, payload []byte) {
	a, err := wire.DecodeEmergency(payload)
	if err != nil || a.Type != wire.EmergencyAck {
		o.log.Warn("dropping a malformed emergency acknowledgement", "err", err, "type", a.Type)
		return
	}
	k := key{a.ID, a.Of}
	o.mu.Lock()
	e := o.msgs[k]
	if e != nil {
		delete(o.msgs, k)
		o.stats.Acked++
		o.stats.Pending = len(o.msgs)
		if e.onDisk {
			if err := os.Remove(filepath.Join(o.dir, fileName(e.msg))); err != nil && !errors.Is(err, os.ErrNotExist) {
				o.log.Error("emergency message acknowledged but not removed: it will go again after a restart", "err", err)
			}
		}
	}
	o.mu.Unlock()
	if e != nil {
		o.log.Info("the platform has the emergency message", "type", a.Of, "id", a.ID, "attempts", e.attempts)
		o.poke()
	}
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// writeFile replaces path atomically: a temporary file, fsync, rename,
// fsync of the directory.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := regular.Open(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640, regular.NoLinks)
	if err == nil {
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(filepath.Dir(path)); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
