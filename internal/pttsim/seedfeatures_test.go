package pttsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// The seed features the simulator adds for issue 10 (notices, webhooks,
// terminals, presence), answered in the seed's shapes.

// wapiAnswer is a wapi envelope whose status is a number and data kept
// raw, as the seed shows it.
type wapiAnswer struct {
	Status  int             `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func wapiCall(t *testing.T, s *simtest.Sim, token, path string, body any) wapiAnswer {
	t.Helper()
	raw := s.Raw(t, "POST", path, http.Header{"Token": {token}}, body)
	var a wapiAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s: %s", path, raw)
	}
	return a
}

// waitEvent waits for an event of msgType and takes it.
func (d *device) waitEvent(t *testing.T, msgType string) wire.Event {
	t.Helper()
	var got wire.Event
	wait.For(t, 5*time.Second, d.account+" "+msgType, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, e := range d.events {
			if e.MsgType == msgType {
				got = e
				d.events = slices.Delete(d.events, i, i+1)
				return true
			}
		}
		return false
	})
	return got
}

func (d *device) eventCount(msgType string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, e := range d.events {
		if e.MsgType == msgType {
			n++
		}
	}
	return n
}

type seedWorld struct {
	s               *simtest.Sim
	url             string
	admin, d1, d2   pttsim.Member
	outsider        pttsim.Member
	patrol          pttsim.Group
	token           string
	dev1, dev2, out *device
}

func newSeedWorld(t *testing.T, o pttsim.Options) *seedWorld {
	addr := freeAddr(t)
	o.EmbedBroker = addr
	w := &seedWorld{s: simtest.Start(t, o), url: "tcp://" + addr}
	w.admin, _ = w.s.AddMember(pttsim.MemberSpec{Num: "admin", Name: "Dispatch", Password: "admin", Type: pttsim.TypeOwner})
	w.d1, _ = w.s.AddMember(pttsim.MemberSpec{Num: "d1", Name: "Unit 1", Password: "pw", Type: pttsim.TypeDevice})
	w.d2, _ = w.s.AddMember(pttsim.MemberSpec{Num: "d2", Name: "Unit 2", Password: "pw", Type: pttsim.TypeDevice})
	w.outsider, _ = w.s.AddMember(pttsim.MemberSpec{Num: "d3", Name: "Unit 3", Password: "pw", Type: pttsim.TypeDevice})
	w.patrol, _ = w.s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: w.admin.ID, Members: []int64{w.admin.ID, w.d1.ID, w.d2.ID}})
	w.token, _ = w.s.IssueToken("admin")
	w.dev1 = newDevice(t, w.url, "d1", w.patrol.ID)
	w.dev2 = newDevice(t, w.url, "d2", w.patrol.ID)
	w.out = newDevice(t, w.url, "d3", w.patrol.ID)
	return w
}

// accept/event: the seed's body (values as strings too) reaches the
// devices of the users named, and of every member of the orgs named; the
// seed's statuses for what is missing or unknown.
func TestAcceptEventDeliversNotices(t *testing.T) {
	w := newSeedWorld(t, pttsim.Options{})
	a := wapiCall(t, w.s, w.token, "/wapi/accept/event", map[string]any{
		"from": map[string]any{"id": "1", "name": "Dispatch"}, "to": map[string]any{"userIds": []string{itoa(w.d1.ID)}},
		"title": "Storm warning", "content": "All units return to base",
		"accessory": []map[string]string{{"name": "map.pdf", "url": "http://p/files/map.pdf"}}})
	if a.Status != 200 || string(a.Data) != "null" {
		t.Fatalf("accept/event: %+v", a)
	}
	ev := w.dev1.waitEvent(t, wire.EventNotice)
	n, err := wire.DecodeNotice(ev.Content)
	if err != nil || n.Title != "Storm warning" || n.Content != "All units return to base" || n.From.Name != "Dispatch" || n.From.ID != 1 ||
		len(n.Accessory) != 1 || n.Accessory[0].URL != "http://p/files/map.pdf" || n.ID == 0 || n.Time == 0 {
		t.Errorf("notice event %s: %+v %v", ev.Content, n, err)
	}
	// The whole org: every device.
	a = wapiCall(t, w.s, w.token, "/wapi/accept/event", map[string]any{
		"from": map[string]any{"id": 1, "name": "Dispatch"}, "to": map[string]any{"orgIds": []int64{100130}},
		"title": "Roll call", "content": "Everybody"})
	if a.Status != 200 {
		t.Fatalf("accept/event to the org: %+v", a)
	}
	for _, d := range []*device{w.dev1, w.dev2, w.out} {
		d.waitEvent(t, wire.EventNotice)
	}
	if w.dev2.eventCount(wire.EventNotice) != 0 || w.out.eventCount(wire.EventNotice) != 0 {
		t.Error("a notice reached a device twice or one it was not for")
	}
	for name, c := range map[string]struct {
		body map[string]any
		want int
	}{
		"no title":     {map[string]any{"from": map[string]any{"id": 1, "name": "D"}, "to": map[string]any{"userIds": []int64{w.d1.ID}}, "content": "x"}, 506},
		"no addressee": {map[string]any{"from": map[string]any{"id": 1, "name": "D"}, "to": map[string]any{}, "title": "t", "content": "x"}, 506},
		"unknown org":  {map[string]any{"from": map[string]any{"id": 1, "name": "D"}, "to": map[string]any{"orgIds": []int64{999}}, "title": "t", "content": "x"}, 509},
		"unknown user": {map[string]any{"from": map[string]any{"id": 1, "name": "D"}, "to": map[string]any{"userIds": []int64{999}}, "title": "t", "content": "x"}, 517},
	} {
		if a := wapiCall(t, w.s, w.token, "/wapi/accept/event", c.body); a.Status != c.want {
			t.Errorf("%s: status %d, want %d", name, a.Status, c.want)
		}
	}
	if a := wapiCall(t, w.s, "bad", "/wapi/accept/event", map[string]any{}); a.Status != 501 {
		t.Errorf("without a token: %+v", a)
	}
	if ns := w.s.Notices(); len(ns) != 2 || !slices.Equal(ns[1].To, []string{"admin", "d1", "d2", "d3"}) {
		t.Errorf("notices kept: %+v", ns)
	}
	// The operator's console lists them.
	resp, err := http.Get(w.s.URL + "/console/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	state, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"Storm warning", "All units return to base", "Roll call"} {
		if !strings.Contains(string(state), want) {
			t.Errorf("the console's state lacks %q", want)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func jsonInt(v int64) string { return itoa(v) }

// The wapi webhooks: the platform's POST with its token is forwarded to
// the devices concerned — a user's own and its groups' members; an org's
// every member —; one without the token is refused and forwards nothing.
func TestWebhooksAreForwarded(t *testing.T) {
	w := newSeedWorld(t, pttsim.Options{WebhookToken: "hook-secret", Events: "none"})
	hook := func(token, event string, ids ...int64) wapiAnswer {
		raw := w.s.Raw(t, "POST", "/webhook/wapi/"+event, http.Header{"Token": {token}}, map[string]any{"id": ids})
		var a wapiAnswer
		json.Unmarshal(raw, &a)
		return a
	}
	if a := hook("wrong", "user-update", w.d1.ID); a.Status != 501 {
		t.Errorf("a webhook without the token: %+v", a)
	}
	if a := hook("hook-secret", "user-update", w.d1.ID); a.Status != 200 {
		t.Fatalf("user-update: %+v", a)
	}
	for _, d := range []*device{w.dev1, w.dev2} {
		ev := d.waitEvent(t, wire.EventWapiUserUpdate)
		if ids, err := wire.DecodeWapiIDs(ev.Content); err != nil || !slices.Equal(ids, []int64{w.d1.ID}) || !ev.Transfer || ev.MsgID == 0 {
			t.Errorf("%s: %s (%v)", d.account, ev.Encode(), err)
		}
	}
	if hook("hook-secret", "org-delete", 100130).Status != 200 {
		t.Fatal("org-delete refused")
	}
	w.out.waitEvent(t, wire.EventWapiOrgDelete)
	if raw := w.s.Raw(t, "POST", "/webhook/wapi/user-rename", http.Header{"Token": {"hook-secret"}}, map[string]any{"id": []int64{1}}); len(raw) == 0 {
		t.Error("an unknown webhook answered nothing")
	}
	time.Sleep(300 * time.Millisecond)
	if n := w.out.eventCount(wire.EventWapiUserUpdate); n != 0 {
		t.Errorf("the user update reached a device outside the user's groups (%d)", n)
	}
	if st := w.s.WebhookStats(); st.Received != 2 || st.Refused != 1 || st.Forwarded != 3+4 {
		t.Errorf("webhook stats %+v", st)
	}
	// With -events none an operator's change publishes nothing: the
	// webhooks are the platform's only news.
	w.s.ChangeMember(w.d1.ID, func(m *pttsim.Member) { m.Name = "Renamed" })
	time.Sleep(300 * time.Millisecond)
	if w.dev1.eventCount(wire.EventMemberChange) != 0 {
		t.Error("events none published an operator's change")
	}
}

// device/bind assigns, takes back and sends terminals to repair; the user
// reads it in user/info (deviceId, deviceState as device/bind sends it)
// and hears of it by an event.
func TestDeviceBind(t *testing.T) {
	w := newSeedWorld(t, pttsim.Options{})
	info := func(id int64) map[string]any {
		a := wapiCall(t, w.s, w.token, "/wapi/user/info?id="+itoa(id), nil)
		var m map[string]any
		json.Unmarshal(a.Data, &m)
		return m
	}
	if _, ok := info(w.d1.ID)["deviceState"]; ok {
		t.Error("a user that never held a terminal has a deviceState")
	}
	if a := wapiCall(t, w.s, w.token, "/wapi/device/bind", map[string]any{"id": "7001", "account": "d1", "state": "1"}); a.Status != 200 {
		t.Fatalf("bind: %+v", a)
	}
	w.dev1.waitEvent(t, wire.EventWapiUserUpdate)
	if m := info(w.d1.ID); m["deviceId"] != float64(7001) || m["deviceState"] != "1" {
		t.Errorf("user/info after the bind: %v", m)
	}
	// Given to another user: the first one has it no more.
	wapiCall(t, w.s, w.token, "/wapi/device/bind", map[string]any{"id": 7001, "account": "d2", "state": 1})
	w.dev1.waitEvent(t, wire.EventWapiUserUpdate)
	if m := info(w.d1.ID); m["deviceState"] != "0" {
		t.Errorf("d1 after its terminal went to d2: %v", m)
	}
	wapiCall(t, w.s, w.token, "/wapi/device/bind", map[string]any{"id": 7001, "state": 2})
	w.dev2.waitEvent(t, wire.EventWapiUserUpdate)
	if m := info(w.d2.ID); m["deviceState"] != "2" {
		t.Errorf("d2 after repair: %v", m)
	}
	for _, body := range []map[string]any{{"id": 7001}, {"state": 1}, {"id": 7002, "account": "nobody", "state": 1}, {"id": 7002, "state": 1}} {
		if a := wapiCall(t, w.s, w.token, "/wapi/device/bind", body); a.Status == 200 {
			t.Errorf("bind %v accepted", body)
		}
	}
}

// Presence from the retained status topics: pttUser/isOnline lists the
// online among the uids asked, group/cgt/inThisGroupUids those online
// with the group active, and corp group-member-getall says online 0/1.
func TestPresenceAnswers(t *testing.T) {
	w := newSeedWorld(t, pttsim.Options{})
	pub := publisher(t, w.url)
	status := func(acct string, p wire.Presence) {
		pub.Publish(wire.Topics{Prefix: "ptt", Account: acct}.Status(), 1, true, p.Encode()).Wait()
	}
	status("d1", wire.Presence{State: "online", Group: w.patrol.ID})
	status("d2", wire.Presence{State: "online", Group: 12345})
	status("d3", wire.Presence{State: "online"})
	t.Cleanup(func() {
		for _, a := range []string{"d1", "d2", "d3"} {
			pub.Publish(wire.Topics{Prefix: "ptt", Account: a}.Status(), 1, true, nil).Wait()
		}
	})
	wait.For(t, 5*time.Second, "presence", func() bool { on, _ := w.s.Online("d3"); return on })
	uids := []int64{w.admin.ID, w.d1.ID, w.d2.ID, w.outsider.ID}
	if a := wapiCall(t, w.s, w.token, "/wapi/pttUser/isOnline", map[string]any{"gid": w.patrol.ID, "uids": uids}); a.Status != 200 ||
		string(a.Data) != "["+jsonInt(w.d1.ID)+","+jsonInt(w.d2.ID)+","+jsonInt(w.outsider.ID)+"]" {
		t.Errorf("isOnline: %d %s", a.Status, a.Data)
	}
	if a := wapiCall(t, w.s, w.token, "/wapi/group/cgt/inThisGroupUids", map[string]any{"gid": w.patrol.ID, "uids": uids}); a.Status != 200 ||
		string(a.Data) != "["+jsonInt(w.d1.ID)+"]" {
		t.Errorf("inThisGroupUids: %d %s", a.Status, a.Data)
	}
	if a := wapiCall(t, w.s, w.token, "/wapi/pttUser/isOnline", map[string]any{"gid": 1, "uids": uids}); a.Status != 514 {
		t.Errorf("isOnline of no group: %+v", a)
	}
	status("d1", wire.Presence{State: "offline"})
	wait.For(t, 5*time.Second, "d1 offline", func() bool { on, _ := w.s.Online("d1"); return !on })
	var gm struct {
		Members []struct {
			UserID int64 `json:"user_id"`
			Online int   `json:"online"`
		} `json:"members"`
	}
	w.s.Login(t, "admin", "admin").Corp("group-member-getall", map[string]any{"group_id": w.patrol.ID}, &gm)
	online := map[int64]int{}
	for _, m := range gm.Members {
		online[m.UserID] = m.Online
	}
	if len(online) != 3 || online[w.d1.ID] != 0 || online[w.d2.ID] != 1 || online[w.admin.ID] != 0 {
		t.Errorf("group-member-getall online: %v", online)
	}
	var tree []struct {
		Children []struct {
			Account string `json:"account"`
			Online  int    `json:"online"`
		} `json:"children"`
	}
	json.Unmarshal(wapiCall(t, w.s, w.token, "/wapi/orgUser/tree", nil).Data, &tree)
	treeOnline := map[string]int{}
	for _, u := range tree[0].Children {
		treeOnline[u.Account] = u.Online
	}
	if treeOnline["d2"] != 1 || treeOnline["d1"] != 0 || len(treeOnline) != 4 {
		t.Errorf("orgUser/tree online: %v", treeOnline)
	}
}
