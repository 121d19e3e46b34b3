package pttsim_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// dynsecLab is mosquitto as deploy/mosquitto/mosquitto-dynsec.conf ships
// it, with pttsim logged in as the plugin's admin.
type dynsecLab struct {
	broker *mqtttest.Broker
	ca     *mqtttest.CA
	sim    *pttsim.Sim
}

const platformPassword = "platform-secret"

func startDynsecLab(t *testing.T) *dynsecLab {
	t.Helper()
	b, ca := mqtttest.Deployed(t, "mosquitto-dynsec.conf", mqtttest.Options{DynsecAdmin: "platform", DynsecPassword: platformPassword})
	s, err := pttsim.New(pttsim.Options{Broker: b.URLAt(0), BrokerUsername: "platform", BrokerPassword: platformPassword,
		BrokerTLS: ca.TLS(t, ""), Dynsec: true, FileDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wait.For(t, 10*time.Second, "pttsim's connection to the broker", s.Connected)
	return &dynsecLab{broker: b, ca: ca, sim: s}
}

// member creates a device member with a broker password.
func (l *dynsecLab) member(t *testing.T, account string) pttsim.Member {
	t.Helper()
	m, err := l.sim.AddMember(pttsim.MemberSpec{Num: account, Password: "pw", Type: pttsim.TypeDevice})
	if err != nil {
		t.Fatal(err)
	}
	l.sim.SetBrokerPassword(account, account+"-secret")
	return m
}

// inSync waits until pttsim has told the broker everything so far.
func (l *dynsecLab) inSync(t *testing.T) {
	t.Helper()
	before := l.sim.DynsecStats().Batches
	wait.For(t, 10*time.Second, "the broker's rights to follow the world", func() bool {
		st := l.sim.DynsecStats()
		return st.InSync && st.Batches > before
	})
}

// listener is a handset's connection as the agent makes it (uplink/mqtt
// with the default reconnect settings), subscribed to group voice; it
// keeps when each packet arrived.
type listener struct {
	mu    sync.Mutex
	heard map[int64][]time.Time
	c     *mqtt.Client
}

func (l *dynsecLab) listener(t *testing.T, account string, groups ...int64) *listener {
	t.Helper()
	return l.listenerAs(t, account, account+"-secret", groups...)
}

// listenerAs is listener with another login (a voice copy's).
func (l *dynsecLab) listenerAs(t *testing.T, login, password string, groups ...int64) *listener {
	t.Helper()
	def := config.Default().MQTT
	ln := &listener{heard: map[int64][]time.Time{}}
	ln.c = mqtt.New(mqtt.Options{Brokers: []string{l.broker.URLAt(0)}, ClientID: login, Username: login,
		Password: password, TLS: l.ca.TLS(t, ""), KeepAlive: def.KeepAlive.D(), ConnectTimeout: def.ConnectTimeout.D(),
		ReconnectMin: def.ReconnectMin.D(), ReconnectMax: def.ReconnectMax.D(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, g := range groups {
		ln.c.Subscribe(wire.GroupVoice("ptt", g, "+"), 0, func(string, []byte) {
			ln.mu.Lock()
			ln.heard[g] = append(ln.heard[g], time.Now())
			ln.mu.Unlock()
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ln.c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wait.For(t, 10*time.Second, login+" to connect", func() bool { up, _ := ln.c.State(); return up })
	return ln
}

// hearsSince reports whether a packet of group arrived after t.
func (ln *listener) hearsSince(g int64, t time.Time) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	h := ln.heard[g]
	return len(h) > 0 && h[len(h)-1].After(t)
}

func (ln *listener) firstSince(g int64, t time.Time) time.Time {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	for _, h := range ln.heard[g] {
		if h.After(t) {
			return h
		}
	}
	return time.Time{}
}

func (ln *listener) last(g int64) time.Time {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	h := ln.heard[g]
	if len(h) == 0 {
		return time.Time{}
	}
	return h[len(h)-1]
}

// talk holds the floor of group as account and sends a voice packet every
// 40 ms until the test ends.
func (l *dynsecLab) talk(t *testing.T, account string, group int64, tc *tls.Config) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(l.broker.URLAt(0)).SetClientID(account).SetUsername(account).
		SetPassword(account + "-secret").SetTLSConfig(tc))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", account, tok.Error())
	}
	topics := wire.Topics{Prefix: "ptt", Account: account}
	granted := make(chan struct{})
	var once sync.Once
	c.Subscribe(topics.FloorDown(), 1, func(_ paho.Client, m paho.Message) {
		if f, err := wire.DecodeFloor(m.Payload()); err == nil && f.Type == wire.FloorGranted {
			once.Do(func() { close(granted) })
		}
	}).WaitTimeout(5 * time.Second)
	c.Publish(topics.FloorUp(), 1, false, wire.Floor{Type: wire.FloorRequest, Group: group, Req: 1}.Encode()).WaitTimeout(5 * time.Second)
	select {
	case <-granted:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not granted the floor", account)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for seq := uint32(0); ; seq += 2 {
			p := wire.VoicePacket{Burst: 77, Seq: seq, FrameMs: 20, TimeMicro: time.Now().UnixMicro(), NFrames: 2}
			p.Frames[0], p.Frames[1] = []byte{0xf8, 1}, []byte{0xf8, 2}
			c.Publish(topics.Voice(group), 0, false, wire.AppendVoicePacket(nil, &p))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done; c.Disconnect(50) })
}

// A member hears only the groups it is in, and the broker follows
// membership as the platform changes it (issue 13, item 2): a device added
// to a group hears it within 2 s, and a removed one stops hearing it
// within 2 s while the others still hear. Before, every device could read
// ptt/group/+/voice/+.
func TestBrokerRightsFollowMembership(t *testing.T) {
	l := startDynsecLab(t)
	talker, a, b := l.member(t, "dev-t"), l.member(t, "dev-a"), l.member(t, "dev-b")
	g, err := l.sim.CreateGroup(pttsim.GroupSpec{Name: "Patrol", TalkTime: 600, Members: []int64{talker.ID, b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	l.inSync(t)
	devA := l.listener(t, "dev-a", g.ID)
	devB := l.listener(t, "dev-b", g.ID)
	l.talk(t, "dev-t", g.ID, l.ca.TLS(t, ""))
	start := time.Now()
	wait.For(t, 5*time.Second, "a member to hear the group", func() bool { return devB.hearsSince(g.ID, start) })
	time.Sleep(300 * time.Millisecond) // about 8 packets
	if !devA.last(g.ID).IsZero() {
		t.Fatal("a device heard a group it is not in")
	}

	if _, err := l.sim.AddGroupMembers(g.ID, []int64{a.ID}); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	wait.For(t, 2*time.Second, "the added member to hear the group", func() bool { return devA.hearsSince(g.ID, added) })
	// The plugin disconnects a client whose rights change; the agent's
	// connection comes back by itself.
	t.Logf("the added member heard the group %v after it was added (reconnects: %d)", devA.firstSince(g.ID, added).Sub(added), devA.c.Stats().Reconnects)

	if err := l.sim.DeleteGroupMembers(g.ID, []int64{a.ID}); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	// The other member keeps hearing for a second past the 2 s.
	wait.For(t, 5*time.Second, "the remaining member to hear on", func() bool {
		return devB.hearsSince(g.ID, removed.Add(3*time.Second))
	})
	if last := devA.last(g.ID); last.After(removed.Add(2 * time.Second)) {
		t.Errorf("the removed member still heard the group %v after its removal", last.Sub(removed))
	} else {
		t.Logf("the removed member's last packet came %v after its removal", last.Sub(removed))
	}
	if st := l.sim.DynsecStats(); st.Errors != 0 {
		t.Errorf("dynsec: %+v", st)
	}
}

// With mosquitto-dynsec.conf too, a member reads pttsim's retained
// capabilities (published at its every connect) and cannot forge them.
func TestDynsecCarriesPlatformCaps(t *testing.T) {
	l := startDynsecLab(t)
	l.member(t, "dev-1")
	l.member(t, "dev-2")
	l.inSync(t)
	capsOf := func(account string) func() (wire.PlatformCaps, bool) {
		var mu sync.Mutex
		var got []byte
		ln := l.listener(t, account)
		ln.c.SubscribeRetained(wire.PlatformCapsTopic("ptt"), 1, func(_ string, b []byte) {
			mu.Lock()
			got = slices.Clone(b)
			mu.Unlock()
		})
		ln.c.Publish(wire.PlatformCapsTopic("ptt"), 1, true, []byte(`{"v":1,"track_versions":[1]}`)).WaitTimeout(5 * time.Second)
		return func() (wire.PlatformCaps, bool) {
			mu.Lock()
			defer mu.Unlock()
			c, err := wire.DecodePlatformCaps(got)
			return c, err == nil
		}
	}
	caps1 := capsOf("dev-1")
	wait.For(t, 10*time.Second, "dev-1 reads the platform's capabilities", func() bool { _, ok := caps1(); return ok })
	caps2 := capsOf("dev-2")
	wait.For(t, 10*time.Second, "dev-2 reads them", func() bool { _, ok := caps2(); return ok })
	for _, caps := range []func() (wire.PlatformCaps, bool){caps1, caps2} {
		if c, _ := caps(); !c.Reads(2) {
			t.Errorf("caps %+v: a device's forged retained message got through", c)
		}
	}
}

// A device's voice login (wire.VoiceLogin) is made with the device, with
// its password: beside the device's own connection — which it does not
// take over, though the broker makes the username the client id — it
// hears the device's groups' voice, and nothing else: not the device's
// floor messages, not another group; it publishes nothing.
func TestDynsecVoiceLogin(t *testing.T) {
	l := startDynsecLab(t)
	talker, a, u := l.member(t, "dev-t"), l.member(t, "dev-a"), l.member(t, "dev-u")
	g, err := l.sim.CreateGroup(pttsim.GroupSpec{Name: "Patrol", TalkTime: 600, Members: []int64{talker.ID, a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.sim.CreateGroup(pttsim.GroupSpec{Name: "Other", TalkTime: 600, Members: []int64{u.ID}})
	if err != nil {
		t.Fatal(err)
	}
	l.inSync(t)
	main := l.listener(t, "dev-a", g.ID)
	copy := l.listenerAs(t, wire.VoiceLogin("dev-a"), "dev-a-secret", g.ID, other.ID)
	var ctl sync.Mutex
	var ctlGot int
	copy.c.Subscribe(wire.Topics{Prefix: "ptt", Account: "dev-a"}.FloorDown(), 1, func(string, []byte) { ctl.Lock(); ctlGot++; ctl.Unlock() })
	start := time.Now()
	l.talk(t, "dev-t", g.ID, l.ca.TLS(t, ""))
	wait.For(t, 5*time.Second, "the voice login to hear the group", func() bool { return copy.hearsSince(g.ID, start) })
	wait.For(t, 5*time.Second, "the device's own connection to hear it too", func() bool { return main.hearsSince(g.ID, start) })
	if st := main.c.Stats(); st.Reconnects != 0 || !st.Connected {
		t.Errorf("the device's own connection: %+v", st)
	}
	// It publishes nothing: a floor request in the device's name never
	// reaches the platform.
	copy.c.Publish(wire.Topics{Prefix: "ptt", Account: "dev-a"}.FloorUp(), 1, false,
		wire.Floor{Type: wire.FloorRequest, Group: g.ID, Req: 9}.Encode()).WaitTimeout(2 * time.Second)
	// Another member talks in a group dev-a is not in (its own
	// connection: one per login, the broker makes the login the client id).
	l.talk(t, "dev-u", other.ID, l.ca.TLS(t, ""))
	time.Sleep(500 * time.Millisecond)
	if !copy.last(other.ID).IsZero() {
		t.Error("the voice login heard a group its device is not in")
	}
	for _, e := range l.sim.FloorEvents() {
		if e.From == "dev-a" {
			t.Errorf("the platform got %+v from the voice login", e)
		}
	}
	ctl.Lock()
	defer ctl.Unlock()
	if ctlGot != 0 {
		t.Errorf("the voice login read %d of the device's floor messages", ctlGot)
	}
}
