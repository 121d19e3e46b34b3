package alert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

var topics = wire.Topics{Prefix: "ptt", Account: "c"}

// fakeLink keeps what is published and lets the test be the platform.
type fakeLink struct {
	mu      sync.Mutex
	up      bool
	changed chan struct{}
	sent    []wire.Emergency
	ack     mqtt.Handler
}

func newFakeLink(up bool) *fakeLink { return &fakeLink{up: up, changed: make(chan struct{})} }

func (l *fakeLink) Publish(topic string, _ byte, _ bool, payload []byte) paho.Token {
	m, err := wire.DecodeEmergency(payload)
	if err != nil || topic != topics.Emergency() {
		panic("bad publish " + topic + " " + string(payload))
	}
	l.mu.Lock()
	l.sent = append(l.sent, m)
	l.mu.Unlock()
	return doneToken{}
}

func (l *fakeLink) Subscribe(filter string, _ byte, h mqtt.Handler) {
	if filter != topics.EmergencyCtl() {
		panic("subscribed to " + filter)
	}
	l.mu.Lock()
	l.ack = h
	l.mu.Unlock()
}

func (l *fakeLink) State() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up, l.changed
}

func (l *fakeLink) setUp(up bool) {
	l.mu.Lock()
	l.up = up
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// platformAck acknowledges a message, as the platform does.
func (l *fakeLink) platformAck(id string, of wire.EmergencyType) {
	l.mu.Lock()
	h := l.ack
	l.mu.Unlock()
	h(topics.EmergencyCtl(), wire.Emergency{Type: wire.EmergencyAck, ID: id, Of: of, TimeMs: 1}.Encode())
}

// sentTypes is "alert:ID cancel:ID …" of everything published.
func (l *fakeLink) sentTypes() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for _, m := range l.sent {
		s = append(s, string(m.Type)+":"+m.ID)
	}
	return strings.Join(s, " ")
}

type doneToken struct{}

func (doneToken) Wait() bool                     { return true }
func (doneToken) WaitTimeout(time.Duration) bool { return true }
func (doneToken) Done() <-chan struct{}          { c := make(chan struct{}); close(c); return c }
func (doneToken) Error() error                   { return nil }

func alertMsg(id string, ms int64) wire.Emergency {
	return wire.Emergency{Type: wire.EmergencyAlert, ID: id, Group: 7, TimeMs: ms,
		Fix: &wire.EmergencyFix{Latitude: 22.5, Longitude: 113.1, Mode: 3, Created: ms / 1000, Age: 4}}
}

func files(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// runOutbox runs o until the test ends.
func runOutbox(t *testing.T, o *Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
}

// An alert leaves at once, stays on disk, goes again while the platform
// does not answer (at a doubling interval), and is gone once it does.
func TestSentAtOnceRetriedUntilAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		link := newFakeLink(true)
		o, err := Open(dir, link, topics, nil)
		if err != nil {
			t.Fatal(err)
		}
		runOutbox(t, o)
		synctest.Wait()
		if err := o.Send(alertMsg("a1", 1000)); err != nil {
			t.Fatal(err)
		}
		if got := link.sentTypes(); got != "alert:a1" {
			t.Fatalf("sent at once: %q", got)
		}
		if got := files(t, dir); got != "a1.alert.json" {
			t.Fatalf("on disk: %q", got)
		}
		if err := o.Send(alertMsg("a1", 1000)); err != nil || link.sentTypes() != "alert:a1" {
			t.Fatalf("a second Send of the same message: %v, sent %q", err, link.sentTypes())
		}
		// No answer: again within 2 s, then within 4 s more, …
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 alert:a1" {
			t.Fatalf("after 2 s: %q", got)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 alert:a1 alert:a1" {
			t.Fatalf("after 6 s: %q", got)
		}
		link.platformAck("a1", wire.EmergencyCancel) // not this message
		link.platformAck("zz", wire.EmergencyAlert)  // nor this
		if s := o.Stats(); s.Pending != 1 || s.Acked != 0 {
			t.Fatalf("acks of other messages count: %+v", s)
		}
		link.platformAck("a1", wire.EmergencyAlert)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 alert:a1 alert:a1" {
			t.Fatalf("sent after the acknowledgement: %q", got)
		}
		if got := files(t, dir); got != "" {
			t.Fatalf("on disk after the acknowledgement: %q", got)
		}
		if s := o.Stats(); s.Pending != 0 || s.Acked != 1 || s.Sent != 3 || s.Resent != 2 {
			t.Errorf("stats %+v", s)
		}
	})
}

// Pressed in a dead zone: kept, sent the moment the link is back, the
// alert ahead of its cancel.
func TestSentWhenTheLinkComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		link := newFakeLink(false)
		o, err := Open(t.TempDir(), link, topics, nil)
		if err != nil {
			t.Fatal(err)
		}
		runOutbox(t, o)
		o.Send(alertMsg("a1", 1000))
		o.Send(wire.Emergency{Type: wire.EmergencyCancel, ID: "a1", TimeMs: 1000})
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := link.sentTypes(); got != "" {
			t.Fatalf("sent with the link down: %q", got)
		}
		link.setUp(true)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 cancel:a1" {
			t.Fatalf("when the link came back: %q", got)
		}
		link.platformAck("a1", wire.EmergencyAlert)
		link.platformAck("a1", wire.EmergencyCancel)
		// A reconnect with nothing waiting sends nothing.
		link.setUp(false)
		link.setUp(true)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 cancel:a1" {
			t.Fatalf("after a reconnect: %q", got)
		}
	})
}

// A restart finds what was not acknowledged, and sends it; a damaged
// file is set aside, a half-written one removed.
func TestKeptAcrossRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		o, err := Open(dir, newFakeLink(false), topics, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Send(alertMsg("a1", 1000))
		o.Send(wire.Emergency{Type: wire.EmergencyCancel, ID: "a1", TimeMs: 2000})
		o.Send(alertMsg("a2", 3000))
		os.WriteFile(filepath.Join(dir, "x.alert.json"), []byte(`{"v":1,"type":"alert"`), 0o640)
		os.WriteFile(filepath.Join(dir, "a3.alert.json"), alertMsg("a4", 1).Encode(), 0o640) // named for another
		os.WriteFile(filepath.Join(dir, "a5.alert.json.tmp"), []byte("{"), 0o640)

		link := newFakeLink(true)
		o2, err := Open(dir, link, topics, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := o2.Stats(); s.Pending != 3 || s.Bad != 2 {
			t.Fatalf("reopened: %+v", s)
		}
		if got := files(t, dir); got != "a1.alert.json a1.cancel.json a2.alert.json a3.alert.json.bad x.alert.json.bad" {
			t.Fatalf("files %q", got)
		}
		runOutbox(t, o2)
		synctest.Wait()
		if got := link.sentTypes(); got != "alert:a1 cancel:a1 alert:a2" {
			t.Fatalf("sent after the restart: %q", got)
		}
		if p := o2.Pending(); len(p) != 3 || p[0].Fix == nil || p[0].Fix.Age != 4 || p[0].Group != 7 {
			t.Errorf("the alert as kept: %+v", p)
		}
	})
}

// A message that cannot be written is still sent and retried, and the
// error says so; beyond MaxPending Send refuses.
func TestNotWrittenStillSentAndBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		link := newFakeLink(true)
		o, err := Open(dir, link, topics, nil)
		if err != nil {
			t.Fatal(err)
		}
		os.Mkdir(filepath.Join(dir, "a1.alert.json.tmp"), 0o750) // in the way of the write
		err = o.Send(alertMsg("a1", 1000))
		if err == nil || !strings.Contains(err.Error(), "lost if the handset restarts") {
			t.Fatalf("Send: %v", err)
		}
		if link.sentTypes() != "alert:a1" || o.Stats().NotSaved != 1 {
			t.Fatalf("sent %q, stats %+v", link.sentTypes(), o.Stats())
		}
		for i := 1; i < MaxPending; i++ {
			if err := o.Send(alertMsg(fmt.Sprintf("b%d", i), int64(1000+i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.Send(alertMsg("last", 1)); !errors.Is(err, ErrFull) {
			t.Fatalf("beyond %d: %v", MaxPending, err)
		}
		if err := o.Send(wire.Emergency{Type: wire.EmergencyAck, ID: "a1", Of: wire.EmergencyAlert, TimeMs: 1}); err == nil {
			t.Fatal("an ack sent by the handset")
		}
	})
}
