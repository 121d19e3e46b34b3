package pttsim_test

import (
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

// device is a raw MQTT client standing in for a handset (the agents' own
// tests run real agents; here the platform's rules are pushed to their
// edges, including devices that misbehave).
type device struct {
	t       *testing.T
	account string
	cli     paho.Client
	mu      sync.Mutex
	floor   []wire.Floor
	voice   []wire.VoicePacket
	events  []wire.Event
}

func newDevice(t *testing.T, url, account string, group int64) *device {
	t.Helper()
	d := &device{t: t, account: account}
	d.cli = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(account))
	if tok := d.cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { d.cli.Disconnect(50) })
	sub := func(topic string, qos byte, f func([]byte)) {
		if tok := d.cli.Subscribe(topic, qos, func(_ paho.Client, m paho.Message) { f(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	sub(wire.FloorDownTopic("ptt", account), 1, func(b []byte) {
		f, err := wire.DecodeFloor(b)
		if err != nil {
			t.Errorf("%s: bad floor message %s", account, b)
		}
		d.mu.Lock()
		d.floor = append(d.floor, f)
		d.mu.Unlock()
	})
	sub(wire.GroupVoice("ptt", group, "+"), 0, func(b []byte) {
		var p wire.VoicePacket
		if err := wire.DecodeVoicePacket(b, &p); err != nil {
			t.Errorf("%s: bad voice %v", account, err)
		}
		p.Frames = [wire.MaxVoiceFrames][]byte{}
		d.mu.Lock()
		d.voice = append(d.voice, p)
		d.mu.Unlock()
	})
	sub(wire.EventTopic("ptt", account), 1, func(b []byte) {
		e, _ := wire.DecodeEvent(b)
		d.mu.Lock()
		d.events = append(d.events, e)
		d.mu.Unlock()
	})
	return d
}

func (d *device) send(f wire.Floor) {
	d.cli.Publish(wire.Topics{Prefix: "ptt", Account: d.account}.FloorUp(), 1, false, f.Encode()).Wait()
}

func (d *device) talk(group int64, burst, seq uint32, last bool) {
	p := wire.VoicePacket{Burst: burst, Seq: seq, Last: last, FrameMs: 20, TimeMicro: time.Now().UnixMicro(), NFrames: 3}
	for i := range 3 {
		p.Frames[i] = []byte{0xf8, byte(seq), byte(i)}
	}
	d.cli.Publish(wire.Topics{Prefix: "ptt", Account: d.account}.Voice(group), 0, false, wire.AppendVoicePacket(nil, &p)).Wait()
}

// waitFloor waits for a floor message of typ and returns it.
func (d *device) waitFloor(typ wire.FloorType) wire.Floor {
	d.t.Helper()
	var got wire.Floor
	wait.For(d.t, 5*time.Second, d.account+" "+string(typ), func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, f := range d.floor {
			if f.Type == typ {
				got = f
				d.floor = append(d.floor[:i:i], d.floor[i+1:]...)
				return true
			}
		}
		return false
	})
	return got
}

func (d *device) voiceFrom(burst uint32) []wire.VoicePacket {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []wire.VoicePacket
	for _, p := range d.voice {
		if p.Burst == burst {
			out = append(out, p)
		}
	}
	return out
}

// The floor over MQTT, as the platform enforces it whatever the devices
// do: a grant announces the talk time, only the holder's voice is
// relayed, a pre-empted talker's burst is ended for the listeners and its
// further packets dropped, a talker that ignores its talk time is revoked
// (Grace after it), and a device that vanishes loses the floor.
func TestFloorOverMQTT(t *testing.T) {
	addr := freeAddr(t)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr})
	url := "tcp://" + addr
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	var ids []int64
	for num, prio := range map[string]int{"d1": 5, "d2": 3, "l": 8} {
		m, _ := s.AddMember(pttsim.MemberSpec{Num: num, Password: "pw", Type: pttsim.TypeDevice, Priority: prio})
		ids = append(ids, m.ID)
	}
	g, err := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, BurstMode: 2, TalkTime: 2, Members: ids})
	if err != nil {
		t.Fatal(err)
	}
	d1, d2, l := newDevice(t, url, "d1", g.ID), newDevice(t, url, "d2", g.ID), newDevice(t, url, "l", g.ID)

	d1.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 1})
	if f := d1.waitFloor(wire.FloorGranted); f.TalkTime != 2 || f.Req != 1 || f.Speaker != "d1" {
		t.Errorf("grant %+v", f)
	}
	if f := l.waitFloor(wire.FloorTaken); f.Speaker != "d1" {
		t.Errorf("taken %+v", f)
	}
	d1.talk(g.ID, 11, 0, false)
	d1.talk(g.ID, 11, 3, false)
	l.talk(g.ID, 99, 0, false) // not the holder: not heard
	wait.For(t, 5*time.Second, "d1's voice at l", func() bool { return len(l.voiceFrom(11)) == 2 })

	// d2 (priority 3) pre-empts d1 (5).
	d2.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 1})
	if f := d1.waitFloor(wire.FloorRevoke); f.Cause != wire.CausePreempted || f.Req != 1 {
		t.Errorf("revoke %+v", f)
	}
	d2.waitFloor(wire.FloorGranted)
	wait.For(t, 5*time.Second, "d1's burst ended for l", func() bool {
		v := l.voiceFrom(11)
		return len(v) == 3 && v[2].Last && v[2].Seq == 6 && v[2].NFrames == 0
	})
	d1.talk(g.ID, 11, 6, false) // keeps talking after the revoke: not heard
	d2.talk(g.ID, 22, 0, false)
	wait.For(t, 5*time.Second, "d2's voice at l", func() bool { return len(l.voiceFrom(22)) == 1 })
	if n := len(l.voiceFrom(11)) + len(l.voiceFrom(99)); n != 3 {
		t.Errorf("l heard %d packets it should not have", n-3)
	}
	if st := s.FloorStats(); st.VoiceDenied != 2 || st.BurstsEnded != 1 {
		t.Errorf("floor stats %+v", st)
	}

	// d2 never releases: revoked at the talk time plus the grace.
	start := time.Now()
	if f := d2.waitFloor(wire.FloorRevoke); f.Cause != wire.CauseTalkTime {
		t.Errorf("revoke %+v", f)
	}
	if held := time.Since(start); held < 2*time.Second || held > 4*time.Second {
		t.Errorf("revoked after %v, want ~3 s (2 s talk time + 1 s grace)", held)
	}
	l.waitFloor(wire.FloorIdle)

	// A device that vanishes (its last will) loses the floor.
	d1.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 2})
	d1.waitFloor(wire.FloorGranted)
	d1.cli.Publish("ptt/dev/d1/status", 1, true, wire.Presence{State: "offline"}.Encode()).Wait()
	wait.For(t, 5*time.Second, "the floor freed", func() bool { _, held := s.FloorHolder(g.ID); return !held })
	d1.cli.Publish("ptt/dev/d1/status", 1, true, []byte{}).Wait() // clear the retained will

	// Operator changes reach the arbiter at once: muting the group
	// revokes its talker.
	d2.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 2})
	d2.waitFloor(wire.FloorGranted)
	s.ChangeGroup(g.ID, func(g *pttsim.Group) { g.Shutup = 1 })
	if f := d2.waitFloor(wire.FloorRevoke); f.Cause != wire.CauseMuted {
		t.Errorf("revoke %+v", f)
	}
	d1.send(wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 3})
	if f := d1.waitFloor(wire.FloorDeny); f.Cause != wire.CauseMuted {
		t.Errorf("deny %+v", f)
	}
	// Garbage is counted, never answered.
	d1.cli.Publish("ptt/dev/d1/floor", 1, false, []byte("{")).Wait()
	d1.cli.Publish("ptt/dev/d1/floor", 1, false, wire.Floor{Type: wire.FloorGranted, Group: g.ID}.Encode()).Wait()
	wait.For(t, 5*time.Second, "bad messages counted", func() bool { return s.FloorStats().Bad == 2 })
}

// A recording report becomes a type 3 voice message in the group's
// history and an audio record, once, however often it is delivered; text
// messages go to the history and, as events, to the group's handsets.
func TestRecordReportsAndTextMessages(t *testing.T) {
	addr := freeAddr(t)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr})
	url := "tcp://" + addr
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Name: "Dispatch", Password: "admin", Type: pttsim.TypeOwner})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "d1", Password: "pw", Type: pttsim.TypeDevice})
	g, _ := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, Members: []int64{admin.ID, dev.ID}})
	d1 := newDevice(t, url, "d1", g.ID)

	r := wire.RecordReport{Group: g.ID, GroupName: "Patrol", Burst: 7, BeginMs: 1763712000123, DurationMs: 4380, URL: "http://p/files/x.opus"}
	for range 3 {
		d1.cli.Publish("ptt/dev/d1/record", 1, false, r.Encode()).Wait()
	}
	d1.cli.Publish("ptt/dev/d1/record", 1, false, []byte(`{"v":1}`)).Wait()
	wait.For(t, 5*time.Second, "the report", func() bool { st := s.Stats(); return st.RecordDuplicates == 2 && st.RecordsBad == 1 })
	recs := s.AudioRecords()
	if len(recs) != 1 || recs[0] != (pttsim.AudioRecord{UserID: dev.ID, Account: "d1", BeginTime: 1763712000123, DurationMs: 4380,
		GroupName: "Patrol", FileURL: "http://p/files/x.opus"}) {
		t.Errorf("records %+v", recs)
	}
	msgs := s.Messages(g.ID)
	if len(msgs) != 1 || msgs[0].Type != 3 || msgs[0].UserID != dev.ID || msgs[0].Created != 1763712000 {
		t.Fatalf("history %+v", msgs)
	}
	if c, _ := msgs[0].Content.(map[string]any); c["url"] != "http://p/files/x.opus" || c["duration"] != int64(5) {
		t.Errorf("voice message content %#v", msgs[0].Content)
	}

	op := s.Login(t, "admin", "admin")
	var sent struct {
		MsgID int64 `json:"msg_id"`
	}
	op.Corp("message-send-group-message", map[string]any{"group_id": g.ID, "content": "Gate 3 is open"}, &sent)
	wait.For(t, 5*time.Second, "the text event", func() bool {
		d1.mu.Lock()
		defer d1.mu.Unlock()
		return len(d1.events) > 0 && d1.events[len(d1.events)-1].MsgType == wire.EventGroupMessage
	})
	d1.mu.Lock()
	ev := d1.events[len(d1.events)-1]
	d1.mu.Unlock()
	m, err := wire.DecodeGroupMessage(ev.Content)
	if text, ok := m.Text(); err != nil || !ok || text != "Gate 3 is open" || m.Group.ID != g.ID || m.User.Name != "Dispatch" || m.Message.MsgID != sent.MsgID {
		t.Errorf("text event %s: %+v %v", ev.Content, m, err)
	}
	if h := s.Messages(g.ID); len(h) != 2 || h[1].Type != 0 || h[1].Content != "Gate 3 is open" || !strings.Contains(string(ev.Content), `"type":0`) {
		t.Errorf("history %+v", h)
	}
}
