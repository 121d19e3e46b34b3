package pttsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// The platform's half of the SOS key over MQTT: the alert is recorded
// once and acknowledged every time; while it stands, the device's floor
// requests in its group pre-empt any talker (revoke cause emergency)
// and the others hear an emergency call; the webhook gets the §3.1
// reports through its failures; the list shows it; the cancel ends it.
func TestEmergencyOverMQTT(t *testing.T) {
	addr := freeAddr(t)
	hook := simtest.NewReceiver(t, 2)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr, EmergencyWebhook: hook.URL, WebhookToken: "hook-secret"})
	url := "tcp://" + addr
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	ids := []int64{admin.ID}
	var c pttsim.Member
	for num, prio := range map[string]int{"a": 1, "b": 5, "c": 9} {
		m, _ := s.AddMember(pttsim.MemberSpec{Num: num, Name: "Unit " + strings.ToUpper(num), Password: "pw", Type: pttsim.TypeDevice, Priority: prio})
		ids = append(ids, m.ID)
		if num == "c" {
			c = m
		}
	}
	g, err := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, BurstMode: 2, Members: ids})
	if err != nil {
		t.Fatal(err)
	}
	a, b, cd := newDevice(t, url, "a", g.ID), newDevice(t, url, "b", g.ID), newDevice(t, url, "c", g.ID)
	var acksMu sync.Mutex
	var acks []wire.Emergency
	if tok := cd.cli.Subscribe(wire.EmergencyCtlTopic("ptt", "c"), 1, func(_ paho.Client, m paho.Message) {
		e, err := wire.DecodeEmergency(m.Payload())
		if err != nil {
			t.Errorf("bad ack %s", m.Payload())
		}
		acksMu.Lock()
		acks = append(acks, e)
		acksMu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	acked := func(n int) {
		t.Helper()
		wait.For(t, 5*time.Second, "acknowledgements", func() bool { acksMu.Lock(); defer acksMu.Unlock(); return len(acks) >= n })
	}
	send := func(e wire.Emergency) {
		cd.cli.Publish(wire.Topics{Prefix: "ptt", Account: "c"}.Emergency(), 1, false, e.Encode()).Wait()
	}

	// a (the highest priority) talks; c asks without an alert: denied.
	a.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 1})
	a.waitFloor(wire.FloorGranted)
	b.waitFloor(wire.FloorTaken)
	cd.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 1, Emergency: true}) // the device's own word is not taken
	if f := cd.waitFloor(wire.FloorDeny); f.Cause != wire.CauseTaken {
		t.Fatalf("c without an alert: %+v", f)
	}

	speed := 4.0
	alert := wire.Emergency{Type: wire.EmergencyAlert, ID: "1763712000123-9f3a", Group: g.ID, TimeMs: 1763712000123,
		Fix: &wire.EmergencyFix{Latitude: 22.511515, Longitude: 113.155122, Speed: &speed, Mode: 3, Created: 1763711997, Age: 3}}
	send(alert)
	send(alert) // sent again (no ack yet, as far as the device knew)
	acked(2)
	acksMu.Lock()
	if acks[0].Type != wire.EmergencyAck || acks[0].ID != alert.ID || acks[0].Of != wire.EmergencyAlert {
		t.Errorf("ack %+v", acks[0])
	}
	acksMu.Unlock()
	es := s.Emergencies()
	if len(es) != 1 || es[0].Account != "c" || es[0].UserID != c.ID || es[0].Name != "Unit C" || es[0].Group != g.ID ||
		es[0].GroupName != "Patrol" || es[0].State != "active" || es[0].Raised != alert.TimeMs || es[0].Position == nil ||
		es[0].Position.X != 22.511515 || es[0].Position.Location != [2]float64{113.155122, 22.511515} || es[0].FixAge != 3 {
		t.Fatalf("recorded %+v", es)
	}
	if st := s.EmergencyStats(); st.Alerts != 1 || st.Duplicates != 1 {
		t.Errorf("stats %+v", st)
	}
	// The operator's console shows it, at the device's position.
	if resp, err := http.Get(s.URL + "/console/api/state"); err != nil {
		t.Error(err)
	} else {
		state, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(state), "Emergency in Patrol") || !strings.Contains(string(state), "22.511515") {
			t.Errorf("the console's state lacks the alert: %s", state)
		}
	}

	// Now c's request pre-empts a, whatever the priorities and burst mode.
	cd.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 2})
	if f := a.waitFloor(wire.FloorRevoke); f.Cause != wire.CauseEmergency {
		t.Errorf("a: %+v", f)
	}
	if f := cd.waitFloor(wire.FloorGranted); !f.Emergency || f.Req != 2 || f.TalkTime != 0 {
		t.Errorf("c: %+v", f)
	}
	if f := b.waitFloor(wire.FloorTaken); f.Speaker != "c" || !f.Emergency {
		t.Errorf("b: %+v", f)
	}
	a.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 2})
	if f := a.waitFloor(wire.FloorDeny); f.Cause != wire.CauseTaken {
		t.Errorf("a against the emergency call: %+v", f)
	}

	// The webhook: the report after two failures, in the seed's shape.
	wait.For(t, 15*time.Second, "the event report", func() bool { return len(hook.Got()) == 1 })
	hook.Lock()
	simtest.CheckSeedShape(t, hook.Bodies[0])
	r, tok := hook.Reports[0], hook.Tokens[0]
	hook.Unlock()
	if tok != "hook-secret" || r.Type != "emergency" || r.Level != "1" || r.Code != "SOS-c-"+alert.ID || r.From.ID != c.ID ||
		r.From.Account != "c" || r.From.Name != "Unit C" || r.To.ID != strconv.FormatInt(g.ID, 10) || r.To.Name != "Patrol" ||
		!strings.Contains(r.Content, "22.511515, 113.155122") || !strings.Contains(r.Address, "22.511515") {
		t.Errorf("report %+v (token %q)", r, tok)
	}
	// The receiver has the report before pttsim has its answer.
	wait.For(t, 5*time.Second, "pttsim to count the report sent", func() bool { return s.EmergencyStats().WebhookSent == 1 })
	if st := s.EmergencyStats(); st.WebhookSent != 1 || st.WebhookFailures != 2 || st.WebhookWaiting != 0 {
		t.Errorf("webhook stats %+v", st)
	}

	// The list, as an operator's console reads it.
	raw := s.Raw(t, "GET", "/wapi/emergency/list?active=1", http.Header{"Token": {wapiToken(t, s, "admin", "admin")}}, nil)
	var env struct {
		Status int `json:"status"`
		Data   struct {
			Total   int                `json:"total"`
			Records []pttsim.Emergency `json:"records"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Status != 200 || env.Data.Total != 1 || env.Data.Records[0].Code != r.Code ||
		len(env.Data.Records[0].Reports) != 1 {
		t.Errorf("list: %s", raw)
	}
	if raw := s.Raw(t, "GET", "/wapi/emergency/list", nil, nil); !strings.Contains(string(raw), `"status":501`) {
		t.Errorf("the list without a token: %s", raw)
	}

	// The cancel: recorded, reported with the same code, and c is an
	// ordinary talker again (a, of higher priority, pre-empts it).
	send(wire.Emergency{Type: wire.EmergencyCancel, ID: alert.ID, Group: g.ID, TimeMs: alert.TimeMs + 60000})
	acked(3)
	wait.For(t, 15*time.Second, "the cancel's report", func() bool { return len(hook.Got()) == 2 })
	if r2 := hook.Got()[1]; r2.Type != "emergency-cancel" || r2.Code != r.Code || r2.ID == r.ID {
		t.Errorf("cancel report %+v", r2)
	}
	if es := s.Emergencies(); es[0].State != "cancelled" || es[0].Cancelled != alert.TimeMs+60000 {
		t.Errorf("after the cancel %+v", es[0])
	}
	a.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 3})
	if f := cd.waitFloor(wire.FloorRevoke); f.Cause != wire.CausePreempted {
		t.Errorf("c after the cancel: %+v", f)
	}
	// Garbage is counted, never acknowledged.
	cd.cli.Publish("ptt/dev/c/emergency", 1, false, []byte(`{"v":1,"type":"alert","id":"../x","ts":1}`)).Wait()
	wait.For(t, 5*time.Second, "the bad message counted", func() bool { return s.EmergencyStats().Bad == 1 })
}
