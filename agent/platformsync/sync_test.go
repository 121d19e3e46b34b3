package platformsync_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	gosync "sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
)

func groupIDs(m *platform.Model) []int64 {
	var ids []int64
	for _, g := range m.Groups {
		ids = append(ids, g.ID)
	}
	return ids
}

func TestFirstSyncBuildsTheModel(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{})
	m := hs.synced(t)
	s := m.Self
	if s.ID != l.dev.ID || s.Account != devAccount || s.Name != "Patrol 1" || s.State != platform.StateEnabled ||
		!s.HasSettings || !s.LocShare || s.Track != 1 || s.TTS || s.Admin {
		t.Errorf("self = %+v", s)
	}
	if !reflect.DeepEqual(groupIDs(m), []int64{l.patrol.ID}) {
		t.Fatalf("groups = %v, want only Patrol %d", groupIDs(m), l.patrol.ID)
	}
	g := m.Groups[0]
	if g.Name != "Patrol" || len(g.Members) != 2 || !g.My.Speak || !g.My.Call || g.BurstMode != platform.BurstQueue || g.Muted {
		t.Errorf("group = %+v", g)
	}
	if m.Versions.Group == 0 || m.Versions.Address == 0 {
		t.Errorf("versions not recorded: %+v", m.Versions)
	}
	if hs.e.Active() != l.patrol.ID {
		t.Errorf("active group %d", hs.e.Active())
	}
	// The model is on disk, whole (written just after it is installed).
	var b []byte
	waitFor(t, 5*time.Second, "the persisted state", func() bool {
		b, _ = os.ReadFile(hs.e.StatePath)
		return json.Valid(b) && len(b) > 0
	})
}

// The versions the platform offers keep an unchanged poll to one request.
func TestPollWithoutChangesAsksOnlyForVersions(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{poll: 100 * time.Millisecond})
	hs.synced(t)
	before := hs.corp.Stats().Requests
	fetches := hs.e.Stats().Fetches
	waitFor(t, 10*time.Second, "5 more polls", func() bool { return hs.e.Stats().Fetches >= fetches+5 })
	got := hs.corp.Stats().Requests - before
	polls := hs.e.Stats().Fetches - fetches
	// One org-my-org per poll (a poll may be under way when we read).
	if got > polls+1 {
		t.Errorf("%d requests for %d unchanged polls; want one each (org-my-org)", got, polls)
	}
}

func TestOperatorSettingsApplyWithin2sByEvents(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	var mu gosync.Mutex
	var applied []platform.Self
	hs := startHandset(t, l, hsOptions{events: true, poll: time.Hour, onChange: func(_, m *platform.Model) {
		mu.Lock()
		applied = append(applied, m.Self)
		mu.Unlock()
	}})
	hs.synced(t)
	hs.eventsLive(t, l)
	refetches := hs.e.Stats().Refetches // the MQTT connection's fetch may still be under way
	start := time.Now()
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "tts": 1, "loc_share": 0, "track": 3}, nil)
	m := hs.waitModel(t, 2*time.Second, "tts 1, loc_share 0, track 3", func(m *platform.Model) bool {
		return m.Self.TTS && !m.Self.LocShare && m.Self.Track == 3
	})
	t.Logf("applied %v after the operator's change", time.Since(start))
	if n := hs.e.Stats().Refetches - refetches; n != 0 {
		t.Errorf("the event was applied with %d fetches; want it applied directly", n)
	}
	waitFor(t, 2*time.Second, "OnChange with the new settings", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return applied[len(applied)-1] == m.Self
	})
	// A custom period in seconds too.
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 45, "loc_share": 1}, nil)
	hs.waitModel(t, 2*time.Second, "track 45", func(m *platform.Model) bool { return m.Self.Track == 45 && m.Self.LocShare })
}

func TestOperatorSettingsApplyWithinOnePollWithoutEvents(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	const poll = time.Second
	hs := startHandset(t, l, hsOptions{events: false, poll: poll})
	hs.synced(t)
	start := time.Now()
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "tts": 1, "track": 2}, nil)
	// One poll period, plus the fetch itself on a busy machine.
	hs.waitModel(t, poll+2*time.Second, "tts 1, track 2", func(m *platform.Model) bool { return m.Self.TTS && m.Self.Track == 2 })
	if d := time.Since(start); d > poll+2*time.Second {
		t.Errorf("took %v", d)
	}
	if st := hs.e.Stats(); st.Events != 0 {
		t.Errorf("events with events disabled: %+v", st)
	}
}

func TestGroupMembershipFollowsTheOperator(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true})
	hs.synced(t)
	hs.eventsLive(t, l)
	const d = 3 * time.Second

	// Joined another group.
	l.op.Corp("group-member-add", map[string]any{"group_id": l.other.ID, "member_ids": []int64{l.dev.ID}}, nil)
	hs.waitModel(t, d, "joined Other", func(m *platform.Model) bool { return m.Group(l.other.ID) != nil })

	// Someone else joins Patrol: the member list follows.
	other, err := l.sim.AddMember(pttsim.MemberSpec{Num: "dev-2", Name: "Patrol 2", Password: "x", Type: pttsim.TypeDevice})
	if err != nil {
		t.Fatal(err)
	}
	l.op.Corp("group-member-add", map[string]any{"group_id": l.patrol.ID, "member_ids": []int64{other.ID}}, nil)
	hs.waitModel(t, d, "3 members in Patrol", func(m *platform.Model) bool { return len(m.Group(l.patrol.ID).Members) == 3 })

	// In-group priority of this member.
	l.op.Corp("group-member-change", map[string]any{"group_id": l.patrol.ID, "member_id": l.dev.ID, "prority": 2, "tts": 1, "loc_share": 1}, nil)
	hs.waitModel(t, d, "in-group priority 2", func(m *platform.Model) bool { return m.Group(l.patrol.ID).My.Priority == 2 })

	// Group settings: pre-empt, muted (this member is no admin: may not speak).
	l.op.Corp("group-change", map[string]any{"org_num": 100130, "group_id": l.patrol.ID, "burst_mode": 2, "shutup": 1, "name": "Patrol A"}, nil)
	hs.waitModel(t, d, "Patrol A muted, pre-empt", func(m *platform.Model) bool {
		g := m.Group(l.patrol.ID)
		return g.Name == "Patrol A" && g.Muted && !g.My.Speak && g.BurstMode == platform.BurstPreempt
	})

	// Removed from Other, and Patrol deleted.
	l.op.Corp("group-member-delete", map[string]any{"group_id": l.other.ID, "member_ids": []int64{l.dev.ID}}, nil)
	hs.waitModel(t, d, "left Other", func(m *platform.Model) bool { return m.Group(l.other.ID) == nil })
	l.op.Corp("group-delete", map[string]any{"group_id": l.patrol.ID}, nil)
	m := hs.waitModel(t, d, "Patrol deleted", func(m *platform.Model) bool { return len(m.Groups) == 0 })
	if hs.e.Active() != 0 {
		t.Errorf("active group %d in no group", hs.e.Active())
	}
	// A fresh fetch agrees with what the events built.
	fresh, err := hs.corp.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fresh.Groups, m.Groups) || fresh.Self != m.Self {
		t.Errorf("events built %+v\nfetch says %+v", m, fresh)
	}
}

func TestMemberStatePausedAndBack(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true})
	hs.synced(t)
	hs.eventsLive(t, l)
	l.op.Corp("member-change-state", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "state": 1}, nil)
	m := hs.waitModel(t, 2*time.Second, "paused", func(m *platform.Model) bool { return m.Self.State == platform.StatePaused })
	if m.Self.State.CanTalk() {
		t.Error("a paused member may talk")
	}
	l.op.Corp("member-change-state", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "state": 0}, nil)
	m = hs.waitModel(t, 2*time.Second, "enabled", func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled })
	if !m.Self.State.CanTalk() || !m.Self.LocShare {
		t.Errorf("back to normal: %+v", m.Self)
	}
}

func TestDuplicateEventsAreIgnored(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true})
	hs.synced(t)
	hs.eventsLive(t, l)

	// Capture what the platform sends, as the broker delivers it.
	got := make(chan []byte, 4)
	cli := paho.NewClient(paho.NewClientOptions().AddBroker(l.broker.URL()).SetClientID("spy"))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cli.Disconnect(50)
	cli.Subscribe(hs.topics.Event(), 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }).WaitTimeout(5 * time.Second)

	l.op.Corp("member-change-state", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "state": 1}, nil)
	payload := <-got
	hs.waitModel(t, 2*time.Second, "paused", func(m *platform.Model) bool { return m.Self.State == platform.StatePaused })
	// The operator enables the member again; then the old "paused" event
	// arrives a second time (QoS 1 redelivery). It must not pause again.
	l.op.Corp("member-change-state", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "state": 0}, nil)
	hs.waitModel(t, 2*time.Second, "enabled", func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled })
	dups := hs.e.Stats().Duplicates
	l.sim.Republish(devAccount, payload)
	waitFor(t, 2*time.Second, "the duplicate to be counted", func() bool { return hs.e.Stats().Duplicates > dups })
	if s := hs.e.Model().Self.State; s != platform.StateEnabled {
		t.Errorf("state %s after a duplicate event", s)
	}
}

// An event that does not say everything (this member joined a group: the
// member list is not in it), or cannot be read, makes the engine fetch.
func TestUnappliableEventsTriggerAFetch(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true})
	hs.synced(t)
	hs.eventsLive(t, l)
	fetches := hs.e.Stats().Fetches
	for i, payload := range []string{
		`{"msg_id":1,"msg_type":"corp-something-new","timestamp":1,"content":{}}`,
		`{"msg_id":2,"msg_type":"corp-member-change","timestamp":1,"content":{"member":{"user_id":"oops"}}}`,
		`not json at all`,
	} {
		l.sim.Republish(devAccount, []byte(payload))
		waitFor(t, 3*time.Second, "a fetch", func() bool { return hs.e.Stats().Fetches > fetches })
		fetches = hs.e.Stats().Fetches
		if m := hs.e.Model(); m == nil || m.Self.ID != l.dev.ID {
			t.Fatalf("case %d: model %+v", i, m)
		}
	}
	if st := hs.e.Stats(); st.BadEvents != 1 {
		t.Errorf("bad events counted %d, want 1", st.BadEvents)
	}
}

func TestRestartWithThePlatformUnreachableUsesThePersistedModel(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	dir := t.TempDir()
	hs := startHandset(t, l, hsOptions{stateDir: dir, events: true})
	hs.synced(t)
	hs.eventsLive(t, l)
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 3, "loc_share": 0}, nil)
	want := hs.waitModel(t, 2*time.Second, "track 3", func(m *platform.Model) bool { return m.Self.Track == 3 })
	hs.stop()

	// Reboot in a dead zone: nothing listens at the platform's address.
	var first *platform.Model
	hs2 := startHandset(t, l, hsOptions{stateDir: dir, baseURL: "http://127.0.0.1:1", timeout: 200 * time.Millisecond,
		onChange: func(old, m *platform.Model) {
			if first == nil {
				first = m
			}
		}})
	got := hs2.e.Model()
	if got == nil || !hs2.e.Stats().FromDisk {
		t.Fatalf("no persisted model at boot: %+v", hs2.e.Stats())
	}
	if got.Self != want.Self || !reflect.DeepEqual(got.Groups, want.Groups) {
		t.Errorf("persisted %+v\nwant %+v", got, want)
	}
	waitFor(t, 5*time.Second, "a failed fetch", func() bool { return hs2.e.Stats().Failures > 0 })
	if m := hs2.e.Model(); m.Self != want.Self || len(m.Groups) != 1 {
		t.Errorf("after a failed fetch: %+v", m)
	}
	if first == nil || first.Self.Track != 3 {
		t.Errorf("OnChange at boot got %+v", first)
	}
}

func TestTokenExpiryAndARefusedRefreshAreSurvived(t *testing.T) {
	l := newLab(t, pttsim.Options{TokenTTL: 2 * time.Second, RefreshTTL: time.Hour})
	hs := startHandset(t, l, hsOptions{poll: 200 * time.Millisecond})
	hs.synced(t)
	// The token's last fifth: refreshed, not a new login.
	waitFor(t, 10*time.Second, "a refresh", func() bool { return hs.corp.Stats().Refreshes > 0 })
	if st := hs.corp.Stats(); st.Logins != 1 {
		t.Errorf("logins %d before any refusal", st.Logins)
	}
	// The platform forgets every session: the refresh is refused and the
	// client logs in again.
	l.sim.RevokeRefreshTokens()
	l.sim.ExpireTokens()
	waitFor(t, 10*time.Second, "a second login", func() bool { return hs.corp.Stats().Logins >= 2 })
	st := hs.corp.Stats()
	if st.RefreshRefused == 0 && st.TokenRefused == 0 {
		t.Errorf("no refusal seen: %+v", st)
	}
	// And sync goes on.
	l.op = l.sim.Login(t, "admin", "admin")
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "tts": 1}, nil)
	hs.waitModel(t, 5*time.Second, "tts 1 after re-login", func(m *platform.Model) bool { return m.Self.TTS })
	if hs.e.Stats().Failures > 3 {
		t.Errorf("failures piled up: %+v", hs.e.Stats())
	}
}

// A platform that forgets a token before its 24 h are up answers the
// seed's {"errcode":"105"} on every call: the handset renews its token
// (refresh, then login) and sync goes on, instead of polling with a dead
// token until it expires.
func TestSeedTokenRefusalIsSurvived(t *testing.T) {
	l := newLab(t, pttsim.Options{TokenTTL: 24 * time.Hour, RefreshTTL: 30 * 24 * time.Hour})
	hs := startHandset(t, l, hsOptions{poll: 200 * time.Millisecond})
	hs.synced(t)
	l.sim.ExpireTokens()
	l.sim.RevokeRefreshTokens()
	l.op = l.sim.Login(t, "admin", "admin")
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 3}, nil)
	hs.waitModel(t, 5*time.Second, "track 3 after the platform forgot the session", func(m *platform.Model) bool { return m.Self.Track == 3 })
	if st := hs.corp.Stats(); st.TokenRefused == 0 || st.RefreshRefused == 0 || st.Logins != 2 {
		t.Errorf("corp stats %+v: want the 105 taken as a refusal, the refresh refused, one more login", st)
	}
}

func TestWapiDialect(t *testing.T) {
	l := newLab(t, pttsim.Options{Events: "wapi", TokenTTL: time.Hour})
	hs := startHandset(t, l, hsOptions{dialect: "wapi", wapiLogin: true, events: true})
	m := hs.synced(t)
	hs.eventsLive(t, l)
	if m.Dialect != "wapi" || m.Self.ID != l.dev.ID || m.Self.HasSettings || m.Self.Priority != 10 ||
		!reflect.DeepEqual(groupIDs(m), []int64{l.patrol.ID}) {
		t.Fatalf("model %+v", m)
	}
	g := m.Groups[0]
	if g.TalkLimit != time.Minute || !g.My.Call || !g.My.Speak || len(g.Members) != 2 {
		t.Errorf("group %+v", g)
	}
	// group/bind with the seed's flags: no call permission, may not speak,
	// in-group priority 3. The wapi event names the user; the handset fetches.
	tok := wapiLogin(t, l, "admin", "admin")
	raw := l.sim.Raw(t, "POST", "/wapi/group/bind", map[string][]string{"Token": {tok}},
		map[string]any{"gid": l.patrol.ID, "users": []map[string]any{{"id": l.dev.ID, "priority": 3, "callPermission": "N", "canSpeak": "N"}}})
	if !json.Valid(raw) || string(raw[:14]) != `{"data":null,"` && !containsStatus200(raw) {
		t.Fatalf("group/bind: %s", raw)
	}
	hs.waitModel(t, 2*time.Second, "permissions revoked", func(m *platform.Model) bool {
		g := m.Group(l.patrol.ID)
		return g != nil && !g.My.Call && !g.My.Speak && g.My.Priority == 3
	})
	// State from user/info (wapi numbering): stunned.
	if _, err := l.sim.SetMemberState(l.dev.ID, pttsim.StateStunned); err != nil {
		t.Fatal(err)
	}
	hs.waitModel(t, 2*time.Second, "stunned", func(m *platform.Model) bool { return m.Self.State == platform.StateStunned })

	// 501: the token is gone; the client logs in again.
	l.sim.ExpireTokens()
	l.sim.SetMemberState(l.dev.ID, pttsim.StateActive)
	hs.waitModel(t, 5*time.Second, "active after re-login", func(m *platform.Model) bool { return m.Self.State == platform.StateEnabled })
	if st := hs.wapi.Stats(); st.Logins < 2 || st.TokenRefused == 0 {
		t.Errorf("wapi stats %+v", st)
	}
}

// The operator's token (platform_token) is the primary way: the handset
// syncs with it, and when the platform refuses it, it keeps its model and
// says what to do.
func TestWapiWithTheOperatorsToken(t *testing.T) {
	l := newLab(t, pttsim.Options{Events: "wapi", TokenTTL: time.Hour})
	hs := startHandset(t, l, hsOptions{dialect: "wapi", poll: 200 * time.Millisecond})
	m := hs.synced(t)
	if m.Self.ID != l.dev.ID || !reflect.DeepEqual(groupIDs(m), []int64{l.patrol.ID}) {
		t.Fatalf("model %+v", m)
	}
	l.sim.ExpireTokens()
	waitFor(t, 5*time.Second, "a refused token", func() bool { return strings.Contains(hs.e.Stats().LastError, "platform_token") })
	if got := hs.e.Model(); got.Self != m.Self || len(got.Groups) != 1 {
		t.Errorf("model after the refusal %+v", got)
	}
	if st := hs.wapi.Stats(); st.Logins != 0 {
		t.Errorf("logged in: %+v", st)
	}
}

func wapiLogin(t *testing.T, l *lab, account, password string) string {
	t.Helper()
	raw := l.sim.Raw(t, "POST", "/wapi/user/login", nil, map[string]any{"account": account, "password": md5hex(password)})
	var env struct {
		Status int `json:"status"`
		Data   struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Status != 200 || env.Data.Token == "" {
		t.Fatalf("wapi login: %s", raw)
	}
	return env.Data.Token
}

func containsStatus200(raw []byte) bool {
	var env struct {
		Status int `json:"status"`
	}
	return json.Unmarshal(raw, &env) == nil && env.Status == 200
}

// Events published while the handset's link is down are lost (QoS 1 with
// clean sessions); the fetch on reconnect finds the change anyway.
func TestReconnectFetchesWhatEventsMissed(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true, poll: time.Hour})
	hs.synced(t)
	hs.eventsLive(t, l)
	l.broker.Stop()
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 3, "tts": 1}, nil)
	time.Sleep(200 * time.Millisecond) // let the simulator try (and fail) to publish
	if m := hs.e.Model(); m.Self.Track == 3 {
		t.Fatal("the change arrived with the broker down")
	}
	l.broker.Start()
	hs.waitModel(t, 10*time.Second, "track 3 after the reconnect", func(m *platform.Model) bool { return m.Self.Track == 3 && m.Self.TTS })
}
