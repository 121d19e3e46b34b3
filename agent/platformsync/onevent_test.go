package platformsync_test

import (
	gosync "sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// Text messages arrive as events on the same topic; push-to-talk takes
// them through OnEvent, and they cost no fetch (they say nothing about
// the model). Duplicates never reach OnEvent; other events still do their
// work.
func TestOnEventTakesTextMessagesWithoutAFetch(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	var mu gosync.Mutex
	var texts []wire.Event
	hs := startHandset(t, l, hsOptions{events: true, onEvent: func(ev wire.Event) bool {
		if ev.MsgType != wire.EventGroupMessage {
			return false
		}
		mu.Lock()
		texts = append(texts, ev)
		mu.Unlock()
		return true
	}})
	hs.synced(t)
	hs.eventsLive(t, l)
	// Refetches, not Fetches: the fetch of the MQTT connection may still
	// be under way.
	refetches := hs.e.Stats().Refetches
	if _, err := l.sim.SendText(l.patrol.ID, l.admin.ID, "Gate 3 is open"); err != nil {
		t.Fatal(err)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(texts) }
	waitFor(t, 5*time.Second, "the text message", func() bool { return count() == 1 })
	mu.Lock()
	l.sim.Republish(devAccount, texts[0].Encode()) // a QoS 1 redelivery
	mu.Unlock()
	waitFor(t, 5*time.Second, "the duplicate dropped", func() bool { return hs.e.Stats().Duplicates > 0 })
	// A model event after it is applied as ever.
	l.sim.ChangeGroup(l.patrol.ID, func(g *pttsim.Group) { g.BurstMode = 2 })
	hs.waitModel(t, 5*time.Second, "burst mode 2", func(m *platform.Model) bool { return m.Group(l.patrol.ID).BurstMode == 2 })
	if n := count(); n != 1 {
		t.Errorf("OnEvent saw %d text messages", n)
	}
	if f := hs.e.Stats().Refetches; f != refetches {
		t.Errorf("%d fetches for a text message and an applicable event", f-refetches)
	}
}
