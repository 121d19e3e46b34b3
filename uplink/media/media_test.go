package media_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/uplink/media/mediatest"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// Voice between two handsets through pttsim's relay: each packet arrives
// once and unchanged, only the floor holder is heard, and listeners on
// UDP and on MQTT hear the same talker, whichever path the talker uses.
// A stale answer kept retained on a handset's media/ctl topic is ignored.
func TestVoiceThroughTheRelay(t *testing.T) {
	r := newRig(t, "t", "l", "x", "m")
	stale := wire.MediaSession{ID: "0000000000000000", Addr: "127.0.0.1:9", SSRC: 1, Profile: wire.MediaProfile,
		Up: media.NewKey(), Down: media.NewKey(), TTL: 3600}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(r.broker.URL()).SetClientID("stale"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub.Publish(wire.MediaCtlTopic(prefix, "l"), 1, true, stale.Encode()).WaitTimeout(5 * time.Second)
	pub.Disconnect(50)

	talker, l, x := r.handset("t", media.Options{}), r.handset("l", media.Options{}), r.handset("x", media.Options{})
	m := r.mqttListener("m")
	for _, h := range []*handset{talker, l, x} {
		h.c.Listen(r.group)
		h.waitUp(10 * time.Second)
		wait.For(t, 5*time.Second, h.account+" listening over UDP", func() bool { return r.sim.MediaListening(h.account, r.group) })
	}
	if st := l.c.Stats(); st.Relay != r.nat.Addr() || st.Sessions != 1 {
		t.Fatalf("l uses relay %q after %d sessions; the stale retained answer must be ignored", st.Relay, st.Sessions)
	}

	talker.talk(r)
	var sent [][]byte
	for i := range uint32(10) {
		p := voicePacket(7, i, i == 9)
		if !talker.c.Send(r.group, p) {
			t.Fatalf("Send %d: UDP is up, want true", i)
		}
		sent = append(sent, p)
	}
	if !x.c.Send(r.group, voicePacket(99, 0, false)) {
		t.Fatal("x's Send: UDP is up, want true")
	}
	wait.For(t, 5*time.Second, "the burst at l over UDP", func() bool { return len(l.heardFrom(7)) == len(sent) })
	wait.For(t, 5*time.Second, "the burst at m over MQTT", func() bool { return len(m.heard()) == len(sent) })
	for i, h := range l.heardFrom(7) {
		if h.group != r.group || h.speaker != "t" || !bytes.Equal(h.payload, sent[i]) {
			t.Errorf("l packet %d: group %d speaker %q payload changed: %v", i, h.group, h.speaker, !bytes.Equal(h.payload, sent[i]))
		}
	}
	for i, p := range m.heard() {
		if !bytes.Equal(p, sent[i]) {
			t.Errorf("m packet %d changed", i)
		}
	}
	wait.For(t, 5*time.Second, "x's packet refused by the floor", func() bool { return r.sim.FloorStats().VoiceDenied == 1 })
	if n := len(l.heardFrom(99)) + len(talker.heardFrom(99)); n != 0 {
		t.Errorf("a member without the floor was heard %d times", n)
	}
	if n := len(talker.heardFrom(7)); n != 0 {
		t.Errorf("the talker heard itself %d times", n)
	}

	// The talker falls back to MQTT (as the agent does when Send says
	// false): UDP listeners still hear it, through the relay.
	for i := range uint32(3) {
		talker.mq.Publish(wire.Topics{Prefix: prefix, Account: "t"}.Voice(r.group), 0, false, voicePacket(8, i, false))
	}
	wait.For(t, 5*time.Second, "the MQTT talker at the UDP listeners", func() bool {
		return len(l.heardFrom(8)) == 3 && len(x.heardFrom(8)) == 3
	})

	st := talker.c.Stats()
	if st.Path != "udp" || !st.Up || st.Sent != 10 || st.AuthFailures != 0 {
		t.Errorf("talker stats %+v", st)
	}
	if ls := l.c.Stats(); ls.Received != 13 || ls.Lost != 0 || ls.Listening != r.group || ls.RTTMs <= 0 || ls.RTTVarMs <= 0 {
		t.Errorf("listener stats %+v", ls)
	}
	// The echoes measured the round trip: loopback, well under 50 ms.
	if srtt, rttvar, ok := l.c.RoundTrip(); !ok || srtt <= 0 || srtt > 50*time.Millisecond || rttvar <= 0 || rttvar > srtt {
		t.Errorf("listener round trip %v ± %v (ok %v)", srtt, rttvar, ok)
	}
}

// A third party that knows the relay's address and a session's SSRC but
// not its keys can neither inject voice nor read it, and replaying a
// captured packet gets nothing relayed. None of it is answered.
func TestThirdPartyCanNeitherListenNorInject(t *testing.T) {
	r, talker, l := talking(t)
	r.nat.Tap()
	secret := voicePacket(5, 0, false)
	if !talker.c.Send(r.group, secret) {
		t.Fatal("Send: want true")
	}
	wait.For(t, 5*time.Second, "the packet at l", func() bool { return len(l.heardFrom(5)) == 1 })

	// Listen: what went over the wire is not the voice.
	var captured []byte
	for _, p := range r.nat.Tapped() {
		if !media.IsRTCP(p) {
			captured = p
		}
		if bytes.Contains(p, secret[21:40]) || bytes.Contains(p, []byte("opus-frame")) {
			t.Fatalf("the voice is readable on the wire: % x", p)
		}
	}
	if captured == nil {
		t.Fatal("no voice packet tapped")
	}

	// Inject, straight at the relay.
	eve, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer eve.Close()
	relay, _ := net.ResolveUDPAddr("udp", r.sim.MediaAddr())
	before := r.sim.MediaStats()
	relayedBefore := r.sim.FloorStats().VoiceRelayed
	// Sequence numbers ahead of the talker's, so that the tag, not the
	// replay window, is what refuses them.
	ahead := func(p []byte, n uint16) {
		binary.BigEndian.PutUint16(p[2:], binary.BigEndian.Uint16(p[2:])+n)
	}
	forged := slices.Clone(captured)
	forged[len(forged)-20] ^= 1 // one bit of the ciphertext
	ahead(forged, 2000)
	plain := slices.Clone(captured[:12])
	plain = wire.AppendMediaVoice(plain, r.group, "", voicePacket(66, 0, false))
	plain = append(plain, make([]byte, 16)...)
	ahead(plain, 1000)
	unknown := slices.Clone(captured)
	unknown[8] ^= 0xff // an SSRC of no session
	for _, p := range [][]byte{forged, plain, unknown} {
		if _, err := eve.WriteToUDP(p, relay); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, 5*time.Second, "three packets refused", func() bool {
		return r.sim.MediaStats().AuthFailures-before.AuthFailures == 3
	})

	// Replay, from the attacker's address and from the NAT's.
	eve.WriteToUDP(captured, relay)
	wait.For(t, 5*time.Second, "the replay refused", func() bool { return r.sim.MediaStats().Replayed-before.Replayed == 1 })

	eve.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := eve.ReadFromUDP(make([]byte, 2048)); err == nil {
		t.Errorf("the relay answered the attacker (%d bytes)", n)
	}
	if got := r.sim.FloorStats().VoiceRelayed; got != relayedBefore {
		t.Errorf("%d injected or replayed packets relayed", got-relayedBefore)
	}
	if st := r.sim.MediaStats(); st.AddressChanges != before.AddressChanges || st.VoiceIn != before.VoiceIn {
		t.Errorf("the attacker moved the talker's address or was counted as voice: %+v", st)
	}
	if n := len(l.heardFrom(5)) + len(l.heardFrom(66)); n != 1 {
		t.Errorf("l heard %d packets, want the one real one", n)
	}
	// The talker's path still works: the attack changed nothing.
	if !talker.c.Send(r.group, voicePacket(5, 1, true)) {
		t.Fatal("Send after the attack: want true")
	}
	wait.For(t, 5*time.Second, "the next packet at l", func() bool { return len(l.heardFrom(5)) == 2 })
}

// A talker whose NAT binding moves mid-burst is heard on from its new
// address after one packet at most; a listener whose binding moves gets
// voice again after its next probe, which silence during a burst brings
// at once.
func TestAddressChangeMidBurst(t *testing.T) {
	r := newRig(t, "t", "l")
	talker := r.handset("t", media.Options{})
	l := r.handset("l", media.Options{MediaTimeout: 300 * time.Millisecond, ProbeInterval: 200 * time.Millisecond})
	r.listening(talker, l)
	talker.talk(r)
	l.c.ExpectVoice(true)
	send := func(from, to uint32) { talker.sendUDP(r, 3, from, to) }
	send(0, 10)
	wait.For(t, 5*time.Second, "the first packets", func() bool { return len(l.heardFrom(3)) == 10 })
	changes := r.sim.MediaStats().AddressChanges
	r.nat.Rebind(talker.port())
	send(10, 20)
	wait.For(t, 5*time.Second, "the talker's new address", func() bool { return r.sim.MediaStats().AddressChanges == changes+1 })
	wait.For(t, 5*time.Second, "the packets after the talker's rebinding", func() bool { return len(l.heardFrom(3)) >= 19 })

	r.nat.Rebind(l.port())
	start := time.Now()
	for i := uint32(20); len(l.heardFrom(3)) < 19+5; i++ {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the listener heard nothing after its rebinding: %d packets", len(l.heardFrom(3)))
		}
		talker.c.Send(r.group, voicePacket(3, i, false))
		time.Sleep(20 * time.Millisecond)
	}
	if up, _ := l.c.State(); !up {
		t.Error("the listener went down over a rebinding its probe repaired")
	}
}

// A listener whose NAT binding went while it was idle (between bursts)
// loses nothing of the next burst: the keep-alive it sends when the floor
// is taken gives the relay its new address, and the relay sends it the
// burst so far, which it sent into the void before.
func TestIdleRebindingLosesNoVoice(t *testing.T) {
	r := newRig(t, "t", "l")
	talker := r.handset("t", media.Options{})
	l := r.handset("l", media.Options{})
	r.listening(talker, l)
	r.nat.Rebind(l.port())
	changes := r.sim.MediaStats().AddressChanges
	talker.talk(r)
	send := func(from, to uint32) { talker.sendUDP(r, 5, from, to) }
	// The floor's "taken" reaches the listener after the relay has begun
	// to send the burst.
	send(0, 10)
	l.c.ExpectVoice(true)
	send(10, 20)
	wait.For(t, 5*time.Second, "the listener's new address", func() bool { return r.sim.MediaStats().AddressChanges == changes+1 })
	wait.For(t, 5*time.Second, "the whole burst", func() bool {
		seen := map[uint32]bool{}
		for _, v := range l.heardFrom(5) {
			var p wire.VoicePacket
			if wire.DecodeVoicePacket(v.payload, &p) == nil {
				seen[p.Seq/3] = true
			}
		}
		return len(seen) == 20
	})
	st := r.sim.MediaStats()
	if st.Resent < 10 {
		t.Errorf("the relay sent %d packets again, want the 10 sent to the old address at least", st.Resent)
	}
	if up, _ := l.c.State(); !up || l.c.Listening() != r.group {
		t.Errorf("listener up %v, listening %d", up, l.c.Listening())
	}

	// A device hopping addresses gets the burst so far once per 3 s at
	// most, not once per hop: the relay is no amplifier.
	for range 5 {
		r.nat.Rebind(l.port())
		l.c.ExpectVoice(false)
		l.c.ExpectVoice(true)
		talker.sendUDP(r, 5, 20, 22)
	}
	wait.For(t, 5*time.Second, "five more address changes", func() bool { return r.sim.MediaStats().AddressChanges >= changes+6 })
	if again := r.sim.MediaStats().Resent - st.Resent; again > 30 {
		t.Errorf("five hops made the relay send %d packets again, want one burst so far at most (30)", again)
	}
}

// UDP blocked: the talker's Send says false within MediaTimeout (the
// voice goes over MQTT) and the path is down after the probes; unblocked,
// it comes back by itself. A handset that cannot reach the relay from the
// start never claims UDP.
func TestFallbackToMQTTAndBack(t *testing.T) {
	r := newRig(t, "t", "l", "b")
	o := media.Options{KeepAlive: 2 * time.Second, MediaTimeout: 500 * time.Millisecond, ProbeInterval: 200 * time.Millisecond, DownAfter: 3}
	talker, l := r.handset("t", o), r.handset("l", o)
	r.listening(talker, l)
	talker.talk(r)
	r.nat.Set(talker.port(), mediatest.Rule{Block: true})
	_, changed := talker.c.State()
	sentAt := time.Now()
	var viaMQTT, viaUDP int
	for i := uint32(0); time.Since(sentAt) < 5*time.Second; i++ {
		p := voicePacket(4, i, false)
		if talker.c.Send(r.group, p) {
			viaUDP++
		} else {
			viaMQTT++
			talker.mq.Publish(wire.Topics{Prefix: prefix, Account: "t"}.Voice(r.group), 0, false, p)
		}
		if up, _ := talker.c.State(); !up {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-changed:
	default:
		t.Fatal("the path did not go down within 5 s of being blocked")
	}
	if st := talker.c.Stats(); st.Up || st.Path != "mqtt" || st.Downs != 1 {
		t.Errorf("blocked talker stats %+v", st)
	}
	if talker.c.Send(r.group, voicePacket(4, 999, false)) {
		t.Error("Send over a blocked path said true")
	}
	// 500 ms of MediaTimeout at 20 ms a packet: about 25 packets lost to
	// UDP before the switch, and every one after it went over MQTT.
	if viaUDP > 60 || viaMQTT == 0 {
		t.Errorf("%d packets sent into the blocked path, %d over MQTT", viaUDP, viaMQTT)
	}
	wait.For(t, 5*time.Second, "the MQTT fallback heard over UDP", func() bool { return len(l.heardFrom(4)) >= viaMQTT })

	r.nat.Set(talker.port(), mediatest.Rule{})
	talker.waitUp(10 * time.Second)
	if !talker.c.Send(r.group, voicePacket(4, 1000, true)) {
		t.Error("Send after unblocking: want true")
	}

	// Never reachable: no claim of UDP, and the platform's session is kept
	// for when it is.
	b := r.handset("b", o)
	r.nat.Set(b.port(), mediatest.Rule{Block: true})
	wait.For(t, 10*time.Second, "b's session", func() bool { return b.c.Stats().Sessions == 1 })
	time.Sleep(time.Second)
	if st := b.c.Stats(); st.Up || st.Path != "mqtt" || b.c.Send(r.group, voicePacket(1, 0, false)) {
		t.Errorf("unreachable relay: stats %+v", st)
	}
	r.nat.Set(b.port(), mediatest.Rule{})
	b.waitUp(10 * time.Second)
}

// The relay's reports reach the talker with the loss the NAT made: 1 in
// 10 of the talker's packets (uplink) and 1 in 5 of the listener's
// (downlink, forwarded from the listener's receiver reports).
func TestReportsMeasureInjectedLoss(t *testing.T) {
	r, talker, l := talking(t)
	r.nat.Set(talker.port(), mediatest.Rule{UpEvery: 10})
	r.nat.Set(l.port(), mediatest.Rule{DownEvery: 5})
	for i := uint32(0); len(talker.lastReports()) < 5; i++ {
		if i > 1000 {
			t.Fatalf("%d reports after %d packets", len(talker.lastReports()), i)
		}
		talker.c.Send(r.group, voicePacket(2, i, false))
		time.Sleep(10 * time.Millisecond)
	}
	reps := talker.lastReports()[1:] // the first interval began before the NAT lost anything
	var up, down float64
	for _, rep := range reps {
		up += rep.UpLoss
		down += rep.DownLoss
		if rep.Listeners != 1 {
			t.Errorf("report %+v: want 1 listener", rep)
		}
	}
	up, down = up/float64(len(reps)), down/float64(len(reps))
	if up < 0.07 || up > 0.13 || down < 0.14 || down > 0.26 {
		t.Errorf("measured %.3f up and %.3f down, made 0.100 and 0.200; reports %+v", up, down, reps)
	}
	if st := talker.c.Stats(); st.Report == nil || st.Report.Loss() != max(st.Report.UpLoss, st.Report.DownLoss) {
		t.Errorf("stats report %+v", st.Report)
	}
	if st := l.c.Stats(); st.Lost < 5 {
		t.Errorf("listener counted %d lost, the NAT dropped one in five", st.Lost)
	}
}

// Each listener report reaches the talker once: a listener whose reports
// stop (its uplink lost, the handset gone) is not reported again and
// again, which would lower the talker's bitrate for one lossy second
// again and again. The talker hears of no listener instead.
func TestAListenerReportCountsOnce(t *testing.T) {
	r, talker, l := talking(t)
	r.nat.Set(l.port(), mediatest.Rule{DownEvery: 5})
	i := uint32(0)
	send := func(until func() bool) {
		for ; !until(); i++ {
			if i > 2000 {
				t.Fatalf("%d reports after %d packets", len(talker.lastReports()), i)
			}
			talker.c.Send(r.group, voicePacket(3, i, false))
			time.Sleep(20 * time.Millisecond)
		}
	}
	send(func() bool {
		n := 0
		for _, rep := range talker.lastReports() {
			if rep.Listeners > 0 && rep.DownLoss > 0 {
				n++
			}
		}
		return n >= 2
	})
	// The listener's reports stop reaching the relay; its voice still comes.
	r.nat.Set(l.port(), mediatest.Rule{UpEvery: 1, DownEvery: 5})
	before := len(talker.lastReports())
	stopped := time.Now()
	send(func() bool { return time.Since(stopped) > 3500*time.Millisecond })
	after := talker.lastReports()[before:]
	if len(after) == 0 {
		t.Fatal("no report in 3.5 s without listener news: the talker's uplink is still news")
	}
	// One listener report may have been on its way.
	news, none := 0, 0
	for _, rep := range after {
		switch {
		case rep.Listeners > 0:
			news++
		case rep.DownLoss == 0 && rep.DownJitterMs == 0:
			none++
		}
	}
	if news > 1 || none == 0 {
		t.Errorf("after the listener's reports stopped: %d reports with listener news, %d without; want at most 1, and some without: %+v", news, none, after)
	}
}

// A group's many listeners each report about once a second, each at its
// own moment (their links delay differently; here their intervals
// differ); their talker still gets one report a second (the worst of
// what came), not one per listener report.
func TestManyListenersOneReportASecond(t *testing.T) {
	r := newRig(t, "t", "a", "b", "c", "d")
	talker := r.handset("t", media.Options{})
	hs := []*handset{talker}
	for i, n := range []string{"a", "b", "c", "d"} {
		hs = append(hs, r.handset(n, media.Options{ReportInterval: time.Duration(700+100*i) * time.Millisecond}))
	}
	r.listening(hs...)
	talker.talk(r)
	before := len(talker.lastReports())
	start := time.Now()
	for i := uint32(0); time.Since(start) < 3*time.Second; i++ {
		talker.c.Send(r.group, voicePacket(4, i, false))
		time.Sleep(60 * time.Millisecond)
	}
	reps := talker.lastReports()[before:]
	most := 0
	for _, rep := range reps {
		most = max(most, rep.Listeners)
	}
	// 3 s: one when the burst starts, then one a second: four at the most.
	if len(reps) > 4 || most < 2 {
		t.Errorf("%d reports in 3 s from 4 listeners, at most %d listeners in one; want at most 4, and listeners together: %+v", len(reps), most, reps)
	}
}

// New keys at every MQTT connect: after the broker restarts, the handset
// has a new session (another SSRC) and voice goes on over UDP, the old
// keys covering the packets in between.
func TestNewSessionAtReconnect(t *testing.T) {
	r := newRig(t, "t", "l")
	talker, l := r.handset("t", media.Options{}), r.handset("l", media.Options{})
	for _, h := range []*handset{talker, l} {
		h.c.Listen(r.group)
		h.waitUp(10 * time.Second)
	}
	old := talker.c.Stats().SSRC
	r.broker.Stop()
	r.broker.Start()
	wait.For(t, 15*time.Second, "new sessions", func() bool {
		return talker.c.Stats().Sessions == 2 && l.c.Stats().Sessions == 2 && r.sim.Connected()
	})
	if talker.c.Stats().SSRC == old {
		t.Error("same SSRC after a reconnect")
	}
	wait.For(t, 5*time.Second, "l listening on its new session", func() bool { return r.sim.MediaListening("l", r.group) })
	talker.talk(r)
	wait.For(t, 5*time.Second, "voice on the new session", func() bool {
		talker.c.Send(r.group, voicePacket(6, 0, false))
		time.Sleep(50 * time.Millisecond)
		return len(l.heardFrom(6)) > 0
	})
	if st := talker.c.Stats(); !st.Up || st.AuthFailures != 0 {
		t.Errorf("talker stats %+v", st)
	}
}

// A platform without a relay says so, and the handset keeps its voice on
// MQTT without asking again and again.
func TestNoRelayKeepsVoiceOnMQTT(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	s := simtest.Start(t, pttsim.Options{Broker: b.URL()})
	s.AddMember(pttsim.MemberSpec{Num: "t", Password: "pw", Type: pttsim.TypeDevice})
	r := &rig{t: t, broker: b, sim: s}
	h := r.handset("t", media.Options{})
	wait.For(t, 10*time.Second, "the platform's answer", func() bool { return h.c.Stats().SessionError == "unavailable" })
	if st := h.c.Stats(); st.Up || st.Path != "mqtt" || st.Sessions != 0 || h.c.Send(1, voicePacket(1, 0, false)) {
		t.Errorf("stats %+v", st)
	}
}

// Voice that outgrows a listener's link queues there: the listener's
// queueing delay reaches the talker in the relay's link report. Packets of
// 60 ms of voice sent 80 ms apart arrive ever later, by 20 ms a packet.
func TestReportsCarryTheListenersQueue(t *testing.T) {
	r, talker, _ := talking(t)
	for i := uint32(0); i < 40; i++ {
		talker.c.Send(r.group, voicePacket(5, i, false))
		time.Sleep(80 * time.Millisecond)
	}
	reps := talker.lastReports()
	if len(reps) < 2 {
		t.Fatalf("%d reports", len(reps))
	}
	last := reps[len(reps)-1]
	// 40 packets, 20 ms later each: ~800 ms by the end; the listener's
	// report is its interval's mean and reaches the talker with the
	// relay's next report, so it lags by a second or two.
	if last.DownQueueMs < 150 || last.QueueMs() < last.DownQueueMs {
		t.Errorf("last report %+v: want the listener's queueing delay over 150 ms", last)
	}
	if first := reps[0]; first.DownQueueMs >= last.DownQueueMs {
		t.Errorf("the queue did not grow: first report %+v, last %+v", first, last)
	}
}

// A queue that grows is news the talker gets within a fraction of a
// second, not once a second: the listener reports early when its queue
// rose 100 ms over its last report, and the relay passes the rise on with
// the talker's next packet. Voice that does not queue keeps the reports
// at one a second (each wakes the talker's radio).
func TestQueueRiseReportsEarly(t *testing.T) {
	r, talker, _ := talking(t)
	// reportsDuring sends 40 packets of 60 ms of voice, gap apart, and
	// counts the talker's reports in that time and the largest queue they
	// told.
	reportsDuring := func(burst uint32, gap time.Duration) (n int, most float64) {
		before := len(talker.lastReports())
		for i := uint32(0); i < 40; i++ {
			talker.c.Send(r.group, voicePacket(burst, i, false))
			time.Sleep(gap)
		}
		reps := talker.lastReports()[before:]
		for _, rep := range reps {
			most = max(most, rep.DownQueueMs)
		}
		return len(reps), most
	}
	// 60 ms of voice every 60 ms: nothing queues. 2.4 s: a report when
	// the burst starts, then one for each of the listener's (its first
	// packet's, then one a second): four at the most.
	if n, most := reportsDuring(7, 60*time.Millisecond); n > 4 || most >= 100 {
		t.Errorf("steady voice: %d reports in 2.4 s, the largest queue %v ms; want at most 4, under 100 ms", n, most)
	}
	time.Sleep(1100 * time.Millisecond) // the next burst starts a report period afresh
	// Every 80 ms: 20 ms more queue a packet, 800 ms by the end (3.2 s).
	// Once a second that is four reports; early, twice as many or more.
	n, most := reportsDuring(8, 80*time.Millisecond)
	if n < 7 || most < 300 {
		t.Errorf("a growing queue: %d reports in 3.2 s, the largest queue %v ms; want 7 or more, and 300 ms or more", n, most)
	}
}

// A listener whose UDP path goes silent while voice is expected is in
// doubt once its probe goes unanswered — seconds before the path is down
// — so push-to-talk takes the broker's copy meanwhile; the doubt ends with
// the first packet back.
func TestSilentPathIsInDoubtBeforeDown(t *testing.T) {
	r := newRig(t, "t", "l")
	o := media.Options{MediaTimeout: 300 * time.Millisecond, ProbeInterval: 200 * time.Millisecond, DownAfter: 10}
	talker, l := r.handset("t", media.Options{}), r.handset("l", o)
	r.listening(talker, l)
	talker.talk(r)
	l.c.ExpectVoice(true)
	talker.sendUDP(r, 6, 0, 5)
	if l.c.InDoubt() {
		t.Fatal("in doubt while voice arrives")
	}
	_, changed := l.c.State()
	r.nat.Set(l.port(), mediatest.Rule{Block: true})
	blocked := time.Now()
	wait.For(t, 5*time.Second, "the listener in doubt", func() bool {
		select {
		case <-changed:
		default:
			return false
		}
		_, changed = l.c.State()
		return l.c.InDoubt()
	})
	if up, _ := l.c.State(); !up {
		t.Error("down already: the doubt should come first")
	}
	t.Logf("in doubt %v after the path went silent", time.Since(blocked).Round(10*time.Millisecond))
	r.nat.Set(l.port(), mediatest.Rule{})
	wait.For(t, 5*time.Second, "the doubt to end", func() bool { return !l.c.InDoubt() })
}
