package media_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/uplink/media/mediatest"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// rig is the platform for a test: a real mosquitto, pttsim with its media
// relay, and a NAT in front of the relay that every handset goes through.
type rig struct {
	t      *testing.T
	broker *mqtttest.Broker
	sim    *simtest.Sim
	nat    *mediatest.NAT
	group  int64
}

const prefix = "ptt"

// newRig makes the members accounts, all in one group.
func newRig(t *testing.T, accounts ...string) *rig {
	t.Helper()
	b := mqtttest.Start(t, mqtttest.Options{})
	nat := mediatest.Start(t)
	s := simtest.Start(t, pttsim.Options{Broker: b.URL(), MediaAddr: "127.0.0.1:0", MediaPublic: nat.Addr()})
	nat.SetTarget(s.MediaAddr())
	admin, err := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{admin.ID}
	for _, a := range accounts {
		m, err := s.AddMember(pttsim.MemberSpec{Num: a, Password: "pw", Type: pttsim.TypeDevice})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	g, err := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, BurstMode: 1, Members: ids})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, broker: b, sim: s, nat: nat, group: g.ID}
}

// heard is one voice packet a handset received over UDP.
type heard struct {
	group   int64
	speaker string
	payload []byte
}

// handset is a device's MQTT client and media client, as the agent runs
// them.
type handset struct {
	t       *testing.T
	account string
	mq      *mqtt.Client
	c       *media.Client
	mu      sync.Mutex
	voice   []heard
	reports []media.Report
	req     uint32
}

func (r *rig) handset(account string, o media.Options) *handset {
	r.t.Helper()
	h := &handset{t: r.t, account: account}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.mq = mqtt.New(mqtt.Options{Brokers: []string{r.broker.URL()}, ClientID: account, KeepAlive: 30 * time.Second,
		ConnectTimeout: 5 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second, Logger: discard})
	h.mq.Subscribe(wire.FloorDownTopic(prefix, account), 1, func(string, []byte) {})
	o.Topics, o.Control, o.Logger = wire.Topics{Prefix: prefix, Account: account}, h.mq, discard
	o.OnVoice = func(group int64, speaker string, payload []byte) {
		h.mu.Lock()
		h.voice = append(h.voice, heard{group, speaker, bytes.Clone(payload)})
		h.mu.Unlock()
	}
	o.OnReport = func(rep media.Report) {
		h.mu.Lock()
		h.reports = append(h.reports, rep)
		h.mu.Unlock()
	}
	h.c = media.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.mq.Run(ctx) }()
	go func() { defer wg.Done(); h.c.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); wg.Wait() })
	return h
}

// port is the handset's UDP port, which the NAT's rules are keyed by.
func (h *handset) port() int {
	h.t.Helper()
	var a net.Addr
	wait.For(h.t, 5*time.Second, h.account+"'s socket", func() bool { a = h.c.LocalAddr(); return a != nil })
	return a.(*net.UDPAddr).Port
}

func (h *handset) waitUp(d time.Duration) {
	h.t.Helper()
	wait.For(h.t, d, h.account+" on UDP", func() bool { up, _ := h.c.State(); return up })
}

// listening has each handset listen to the rig's group over UDP, and
// waits until the relay has them listening.
func (r *rig) listening(hs ...*handset) {
	r.t.Helper()
	for _, h := range hs {
		h.c.Listen(r.group)
		h.waitUp(10 * time.Second)
		wait.For(r.t, 5*time.Second, h.account+" listening", func() bool { return r.sim.MediaListening(h.account, r.group) })
	}
}

// talking is the rig most tests want: handset "t" holds the floor of
// the group and "l" listens to it, both over UDP.
func talking(t *testing.T) (r *rig, talker, l *handset) {
	t.Helper()
	r = newRig(t, "t", "l")
	talker, l = r.handset("t", media.Options{}), r.handset("l", media.Options{})
	r.listening(talker, l)
	talker.talk(r)
	return r, talker, l
}

// talk takes the floor of group.
func (h *handset) talk(r *rig) {
	h.t.Helper()
	h.req++
	h.mq.Publish(wire.Topics{Prefix: prefix, Account: h.account}.FloorUp(), 1, false,
		wire.Floor{Type: wire.FloorRequest, Group: r.group, Req: h.req}.Encode())
	wait.For(h.t, 5*time.Second, h.account+" holding the floor", func() bool {
		who, ok := r.sim.FloorHolder(r.group)
		return ok && who == h.account
	})
}

func (h *handset) heard() []heard {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]heard(nil), h.voice...)
}

func (h *handset) heardFrom(burst uint32) []heard {
	var out []heard
	for _, v := range h.heard() {
		var p wire.VoicePacket
		if wire.DecodeVoicePacket(v.payload, &p) == nil && p.Burst == burst {
			out = append(out, v)
		}
	}
	return out
}

func (h *handset) lastReports() []media.Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]media.Report(nil), h.reports...)
}

// sendUDP sends packets from…to−1 of burst over UDP, 20 ms apart; each
// must go over UDP.
func (h *handset) sendUDP(r *rig, burst, from, to uint32) {
	h.t.Helper()
	for i := from; i < to; i++ {
		if !h.c.Send(r.group, voicePacket(burst, i, false)) {
			h.t.Fatalf("Send %d: want true", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// voicePacket is packet seq of a burst: three recognisable frames.
func voicePacket(burst, seq uint32, last bool) []byte {
	p := wire.VoicePacket{Burst: burst, Seq: seq * 3, Last: last, FrameMs: 20, TimeMicro: time.Now().UnixMicro(), NFrames: 3}
	for i := range 3 {
		p.Frames[i] = fmt.Appendf(nil, "opus-frame-%d-%d-%d-%s", burst, seq, i, bytes.Repeat([]byte{0x5a}, 20))
	}
	return wire.AppendVoicePacket(nil, &p)
}

// mqttListener is a member that hears voice over MQTT only.
type mqttListener struct {
	mu    sync.Mutex
	voice [][]byte
}

func (r *rig) mqttListener(account string) *mqttListener {
	r.t.Helper()
	l := &mqttListener{}
	cli := paho.NewClient(paho.NewClientOptions().AddBroker(r.broker.URL()).SetClientID(account))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		r.t.Fatalf("connect: %v", tok.Error())
	}
	r.t.Cleanup(func() { cli.Disconnect(50) })
	tok := cli.Subscribe(wire.GroupVoice(prefix, r.group, "+"), 0, func(_ paho.Client, m paho.Message) {
		l.mu.Lock()
		l.voice = append(l.voice, bytes.Clone(m.Payload()))
		l.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		r.t.Fatalf("subscribe: %v", tok.Error())
	}
	return l
}

func (l *mqttListener) heard() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.voice...)
}
