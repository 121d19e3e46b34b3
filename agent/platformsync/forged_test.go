package platformsync_test

import (
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/wire"
)

// A wrong or forged event is applied — events are how changes arrive
// within seconds — but the next poll reads again what it touched and
// repairs it (issue 13: a forged group delete was persisted and never
// repaired, because events left the versions as they were).
func TestTheNextPollRepairsAForgedEvent(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	var mu gosync.Mutex
	var seen []*platform.Model
	hs := startHandset(t, l, hsOptions{events: true, poll: 300 * time.Millisecond, onChange: func(_, m *platform.Model) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	}})
	good := hs.synced(t)
	hs.eventsLive(t, l)
	msgID := int64(8_000_000_000)
	for _, tc := range []struct {
		name, typ, content string
		forged, repaired   func(m *platform.Model) bool
	}{
		{"group deleted", wire.EventGroupDelete, fmt.Sprintf(`{"group":{"id":%d,"name":"Patrol"}}`, l.patrol.ID),
			func(m *platform.Model) bool { return m.Group(l.patrol.ID) == nil },
			func(m *platform.Model) bool { return m.Group(l.patrol.ID) != nil }},
		{"removed from the group", wire.EventGroupMemberDelete, fmt.Sprintf(`{"group":{"id":%d},"members":[{"user_id":%d}]}`, l.patrol.ID, l.dev.ID),
			func(m *platform.Model) bool { return m.Group(l.patrol.ID) == nil },
			func(m *platform.Model) bool { return m.Group(l.patrol.ID) != nil }},
		{"another member removed", wire.EventGroupMemberDelete, fmt.Sprintf(`{"group":{"id":%d,"member_version":99},"members":[{"user_id":%d}]}`, l.patrol.ID, l.admin.ID),
			func(m *platform.Model) bool { g := m.Group(l.patrol.ID); return g != nil && len(g.Members) == 1 },
			func(m *platform.Model) bool { g := m.Group(l.patrol.ID); return g != nil && len(g.Members) == 2 }},
		{"settings", wire.EventMemberChange, fmt.Sprintf(`{"member":{"user_id":%d,"tts":1,"loc_share":0,"track":0}}`, l.dev.ID),
			func(m *platform.Model) bool { return !m.Self.LocShare && m.Self.Track == 0 },
			func(m *platform.Model) bool { return m.Self.LocShare && m.Self.Track == 1 && !m.Self.TTS }},
		{"paused", wire.EventMemberStateChange, fmt.Sprintf(`{"member":{"user_id":%d,"state":1}}`, l.dev.ID),
			func(m *platform.Model) bool { return m.Self.State == platform.StatePaused },
			func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled }},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		msgID++
		ev := wire.Event{MsgID: msgID, MsgType: tc.typ, Timestamp: time.Now().Unix(), Content: []byte(tc.content)}
		l.sim.Republish(devAccount, ev.Encode())
		waitFor(t, 5*time.Second, tc.name+": the forged event applied, then repaired", func() bool {
			mu.Lock()
			defer mu.Unlock()
			forged := -1
			for i, m := range seen {
				if forged < 0 && tc.forged(m) {
					forged = i
				}
				if forged >= 0 && i > forged && tc.repaired(m) {
					return true
				}
			}
			return false
		})
	}
	if m := hs.e.Model(); m.Self != good.Self || len(m.Groups) != 1 || len(m.Groups[0].Members) != 2 {
		t.Errorf("after the repairs: %+v\nwant %+v", m, good)
	}
}

// Applied events cost no fetch each; the next poll reads only what they
// touched: here ten changes to one group are three requests.
func TestEventsCostNoFetchStorm(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true, poll: time.Hour})
	hs.synced(t)
	hs.eventsLive(t, l)
	refetches := hs.e.Stats().Refetches
	for p := 1; p <= 10; p++ {
		l.op.Corp("group-member-change", map[string]any{"group_id": l.patrol.ID, "member_id": l.dev.ID, "prority": p, "tts": 1, "loc_share": 1}, nil)
	}
	m := hs.waitModel(t, 5*time.Second, "in-group priority 10", func(m *platform.Model) bool { return m.Group(l.patrol.ID).My.Priority == 10 })
	if n := hs.e.Stats().Refetches - refetches; n != 0 {
		t.Errorf("%d fetches for 10 applicable events", n)
	}
	if g := m.Group(l.patrol.ID); g.MemberVersion != 0 || m.Versions.Group != 0 || m.Versions.Address == 0 {
		t.Fatalf("the group is not marked for the next poll: versions %+v, member_version %d", m.Versions, g.MemberVersion)
	}
	// What the next poll costs, with a client of its own that has made
	// the first fetch (as the handset's has).
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: l.sim.URL, Timeout: 5 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c := &corp.Client{HTTP: h, Account: devAccount, Password: md5hex(devPassword), Logger: quiet()}
	if _, err := c.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Requests
	next, err := c.Fetch(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().Requests - before; n != 3 {
		t.Errorf("the poll after 10 events took %d requests, want 3 (org-my-org, group-getall, Patrol's members)", n)
	}
	if g := next.Group(l.patrol.ID); g.MemberVersion == 0 || next.Versions.Group == 0 || g.My.Priority != 10 {
		t.Errorf("after the poll: versions %+v, group %+v", next.Versions, g)
	}
}
