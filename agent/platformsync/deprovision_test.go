package platformsync_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// Deprovisioning (issue 10 item 6) as the sync sees it: the platform's
// answers and events put the member's state (or its terminal's) in the
// model, the model is kept across a restart, and the handset comes back by
// itself when the platform gives it back.

// corp: the operator deletes the member. The delete event takes the
// handset out of service at once; the fetch it asks for confirms it (the
// address list no longer lists the member) and a restart keeps it; the
// member created again — a new member id — brings it back by itself.
func TestCorpMemberDeletedAndCreatedAgain(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	dir := t.TempDir()
	hs := startHandset(t, l, hsOptions{events: true, poll: 500 * time.Millisecond, stateDir: dir})
	hs.synced(t)
	hs.eventsLive(t, l)
	l.op.Corp("member-delete", map[string]any{"org_num": 100130, "member_id": l.dev.ID}, nil)
	m := hs.waitModel(t, 2*time.Second, "deleted", func(m *platform.Model) bool { return m.Self.State == platform.StateDeleted })
	if a := m.Self.Access(); a.Talk || a.Listen || a.Tracks || !strings.Contains(a.Withdrawn, "deleted") {
		t.Errorf("access of a deleted member: %+v", a)
	}
	// Confirmed, not repaired, by the fetches that follow.
	fetches := hs.e.Stats().Fetches + hs.e.Stats().Failures
	waitFor(t, 5*time.Second, "two more fetches", func() bool { return hs.e.Stats().Fetches+hs.e.Stats().Failures >= fetches+2 })
	if s := hs.e.Model().Self.State; s != platform.StateDeleted {
		t.Fatalf("after the fetches: %s", s)
	}
	hs.stop()
	hs = startHandset(t, l, hsOptions{poll: 500 * time.Millisecond, stateDir: dir})
	if m := hs.e.Model(); m == nil || m.Self.State != platform.StateDeleted {
		t.Fatalf("after a restart: %+v", m)
	}
	time.Sleep(time.Second)
	if s := hs.e.Model().Self.State; s != platform.StateDeleted {
		t.Errorf("after a restart and a poll: %s", s)
	}
	again, err := l.sim.AddMember(pttsim.MemberSpec{Num: devAccount, Name: "Patrol 1 again", Password: devPassword, Type: pttsim.TypeDevice})
	if err != nil {
		t.Fatal(err)
	}
	m = hs.waitModel(t, 5*time.Second, "back", func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled })
	if m.Self.ID != again.ID || m.Self.Access().Withdrawn != "" {
		t.Errorf("back as %+v", m.Self)
	}
}

// corp, deleted while no event reached the handset (out of coverage,
// events off): the next poll finds it gone — the platform still answers
// its session but no longer lists it.
func TestCorpMemberDeletedFoundByPoll(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{poll: 300 * time.Millisecond})
	hs.synced(t)
	if err := l.sim.DeleteMember(l.dev.ID); err != nil {
		t.Fatal(err)
	}
	hs.waitModel(t, 5*time.Second, "deleted", func(m *platform.Model) bool { return m.Self.State == platform.StateDeleted })
	if st := hs.e.Stats(); !strings.Contains(st.LastError, "no longer lists") {
		t.Errorf("last error %q", st.LastError)
	}
}

// A forged delete event (the broker ACL should make it impossible; the
// handset does not rely on it) stops the handset only until the fetch it
// asks for finds the member.
func TestForgedDeleteEventIsRepaired(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	var mu sync.Mutex
	var states []platform.State
	seen := func() []platform.State { mu.Lock(); defer mu.Unlock(); return slices.Clone(states) }
	hs := startHandset(t, l, hsOptions{events: true, onChange: func(_, m *platform.Model) {
		mu.Lock()
		states = append(states, m.Self.State)
		mu.Unlock()
	}})
	hs.synced(t)
	hs.eventsLive(t, l)
	forged := wire.Event{MsgID: 77, MsgType: wire.EventMemberDelete, Timestamp: time.Now().Unix(),
		Content: []byte(`{"member":{"user_id":` + itoa(l.dev.ID) + `}}`)}
	l.sim.Republish(devAccount, forged.Encode())
	waitFor(t, 3*time.Second, "deleted, then repaired", func() bool {
		return len(seen()) >= 3 && hs.e.Model().Self.State == platform.StateEnabled
	})
	if st := seen(); st[len(st)-2] != platform.StateDeleted {
		t.Errorf("states %v", st)
	}
}

// wapi: the user's state (user/info), its terminal (device/bind, read
// back in user/info) and its deletion (user/delete: 517) each take the
// handset out of service; re-registered it comes back.
func TestWapiStatesTerminalsAndDeletion(t *testing.T) {
	l := newLab(t, pttsim.Options{Events: "wapi", TokenTTL: time.Hour})
	hs := startHandset(t, l, hsOptions{dialect: "wapi", events: true, poll: 500 * time.Millisecond})
	hs.synced(t)
	hs.eventsLive(t, l)
	op, _ := l.sim.IssueToken("admin")
	wapi := func(path string, body any) {
		t.Helper()
		if raw := l.sim.Raw(t, "POST", path, http.Header{"Token": {op}}, body); !containsStatus200(raw) {
			t.Fatalf("%s: %s", path, raw)
		}
	}
	for _, c := range []struct {
		state int
		want  platform.State
	}{{pttsim.StateDisabled, platform.StateDisabled}, {pttsim.StateKilled, platform.StateKilled}, {pttsim.StateActive, platform.StateEnabled}} {
		l.sim.SetMemberState(l.dev.ID, c.state)
		hs.waitModel(t, 2*time.Second, string(c.want), func(m *platform.Model) bool { return m.Self.State == c.want })
	}
	wapi("/wapi/device/bind", map[string]any{"id": "7001", "account": devAccount, "state": "1"})
	hs.waitModel(t, 2*time.Second, "assigned", func(m *platform.Model) bool { return m.Self.Device == platform.DeviceAssigned })
	wapi("/wapi/device/bind", map[string]any{"id": "7001", "state": "2"})
	m := hs.waitModel(t, 2*time.Second, "in repair", func(m *platform.Model) bool { return m.Self.Device == platform.DeviceRepair })
	if a := m.Self.Access(); a.Talk || a.Tracks || !strings.Contains(a.Withdrawn, "repair") {
		t.Errorf("in repair: %+v", a)
	}
	wapi("/wapi/device/bind", map[string]any{"id": "7001", "state": "0"})
	hs.waitModel(t, 2*time.Second, "unbound", func(m *platform.Model) bool { return m.Self.Device == platform.DeviceUnbound })
	wapi("/wapi/device/bind", map[string]any{"id": "7001", "account": devAccount, "state": "1"})
	hs.waitModel(t, 2*time.Second, "assigned again", func(m *platform.Model) bool { return m.Self.Access().Withdrawn == "" })

	wapi("/wapi/user/delete", map[string]any{"pttIds": []int64{l.dev.ID}})
	hs.waitModel(t, 3*time.Second, "deleted", func(m *platform.Model) bool { return m.Self.State == platform.StateDeleted })
	time.Sleep(time.Second)
	if s := hs.e.Model().Self.State; s != platform.StateDeleted {
		t.Errorf("polls after the deletion: %s", s)
	}
	wapi("/wapi/user/register", map[string]any{"account": []string{devAccount}, "name": []string{"Patrol 1"}, "password": devPassword})
	m = hs.waitModel(t, 5*time.Second, "registered again", func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled })
	if m.Self.ID == l.dev.ID {
		t.Errorf("the model keeps the old user id %d", m.Self.ID)
	}
}

// The platform's webhooks (wapi §3.2–3.5), received by pttsim and
// forwarded as events, make the handset fetch within seconds — here the
// platform publishes nothing else (events none) and the poll is an hour.
func TestWebhookMakesTheHandsetFetch(t *testing.T) {
	l := newLab(t, pttsim.Options{Events: "none", WebhookToken: "hook", TokenTTL: time.Hour})
	hs := startHandset(t, l, hsOptions{dialect: "wapi", events: true})
	hs.synced(t)
	hs.eventsLive(t, l)
	hs.idle(t)
	if _, err := l.sim.SetMemberState(l.dev.ID, pttsim.StateStunned); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if s := hs.e.Model().Self.State; s != platform.StateEnabled {
		t.Fatalf("state %s before any webhook: the test needs a platform without events", s)
	}
	raw := l.sim.Raw(t, "POST", "/webhook/wapi/user-update", http.Header{"Token": {"hook"}}, map[string]any{"id": []int64{l.dev.ID}})
	if !containsStatus200(raw) {
		t.Fatalf("webhook: %s", raw)
	}
	hs.waitModel(t, 2*time.Second, "stunned", func(m *platform.Model) bool { return m.Self.State == platform.StateStunned })
	// A user-delete webhook for this user: believed at once, then checked.
	raw = l.sim.Raw(t, "POST", "/webhook/wapi/user-delete", http.Header{"Token": {"hook"}}, map[string]any{"id": []int64{l.dev.ID}})
	if !containsStatus200(raw) {
		t.Fatalf("webhook: %s", raw)
	}
	hs.waitModel(t, 2*time.Second, "stunned again after the check", func(m *platform.Model) bool {
		return m.Self.State == platform.StateStunned && hs.e.Stats().Refetches >= 3
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
