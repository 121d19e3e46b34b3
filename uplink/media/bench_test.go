package media

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// benchVoice is a typical voice packet: 3 frames of 40 bytes (16 kbit/s).
func benchVoice() []byte {
	p := wire.VoicePacket{Burst: 1, Seq: 0, FrameMs: 20, TimeMicro: 1, NFrames: 3}
	for i := range 3 {
		p.Frames[i] = make([]byte, 40)
	}
	return wire.AppendVoicePacket(nil, &p)
}

// pair is a client with an installed, live session, and the relay's side
// of that session on a loopback socket that drains what it gets.
type pair struct {
	c     *Client
	relay *net.UDPConn
	tx    *Sender // relay → client
	from  netip.AddrPort
}

func newPair(tb testing.TB) *pair {
	tb.Helper()
	up, down := NewKey(), NewKey()
	const ssrc = 0x1234
	relay, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { relay.Close(); conn.Close() })
	go func() {
		buf := make([]byte, MaxPacket)
		for {
			if _, _, err := relay.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	c := New(Options{Topics: wire.Topics{Prefix: "ptt", Account: "bench"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnVoice: func(int64, string, []byte) {}})
	c.cfg.MediaTimeout = time.Hour // nothing answers a benchmark's voice
	ctx, err := NewSender(up, ssrc)
	if err != nil {
		tb.Fatal(err)
	}
	crx, err := NewOpener(down, ssrc)
	if err != nil {
		tb.Fatal(err)
	}
	raddr := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	c.conn = conn
	c.cur = &session{ssrc: ssrc, addr: raddr, tx: ctx, rx: crx, until: time.Now().Add(time.Hour)}
	c.link.heardFrom(time.Now())
	tx, err := NewSender(down, ssrc)
	if err != nil {
		tb.Fatal(err)
	}
	return &pair{c: c, relay: relay, tx: tx, from: raddr}
}

// packets seals n relayed voice packets as the relay sends them.
func (p *pair) packets(tb testing.TB, n int, voice []byte) [][]byte {
	out := make([][]byte, n)
	p.tx.mu.Lock()
	defer p.tx.mu.Unlock()
	for i := range out {
		b, err := p.tx.sealVoice(7, "dev-0001", voice)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = append([]byte(nil), b...)
	}
	return out
}

func TestSendAndReceiveAllocateNothing(t *testing.T) {
	p := newPair(t)
	voice := benchVoice()
	if n := testing.AllocsPerRun(200, func() {
		if !p.c.Send(7, voice) {
			t.Fatal("Send said false")
		}
	}); n != 0 {
		t.Errorf("Send: %v allocations a packet, want 0", n)
	}
	pkts := p.packets(t, 202, voice)
	i := 0
	got := 0
	p.c.o.OnVoice = func(int64, string, []byte) { got++ }
	p.c.lastRR = time.Now().Add(time.Hour) // the once-a-second report is not the per-packet path
	if n := testing.AllocsPerRun(200, func() {
		p.c.handle(pkts[i], p.from, time.Now())
		i++
	}); n != 0 {
		t.Errorf("receive: %v allocations a packet, want 0", n)
	}
	if got != 201 || p.c.stats.AuthFailures+p.c.stats.Malformed+p.c.stats.Replayed != 0 {
		t.Errorf("%d packets delivered; stats %+v", got, p.c.stats)
	}
}

// BenchmarkSend is Client.Send: SRTP sealing and the UDP write on loopback.
func BenchmarkSend(b *testing.B) {
	p := newPair(b)
	voice := benchVoice()
	b.ReportAllocs()
	b.SetBytes(int64(len(voice)))
	for b.Loop() {
		if !p.c.Send(7, voice) {
			b.Fatal("Send said false")
		}
	}
}

// BenchmarkSendReferencePlainUDP writes the same packet unsealed: the
// system call alone, to compare Send with.
func BenchmarkSendReferencePlainUDP(b *testing.B) {
	p := newPair(b)
	pkt := make([]byte, rtpHeaderSize+10+len(benchVoice())+tagSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchVoice())))
	for b.Loop() {
		if _, err := p.c.conn.WriteToUDPAddrPort(pkt, p.from); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReferenceMQTT publishes the same voice packet as the agent
// does today: QoS 0 through paho to a real mosquitto on loopback.
func BenchmarkSendReferenceMQTT(b *testing.B) {
	br := mqtttest.Start(b, mqtttest.Options{})
	mq := mqtt.New(mqtt.Options{Brokers: []string{br.URL()}, ClientID: "bench", KeepAlive: 30 * time.Second,
		ConnectTimeout: 5 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mq.Run(ctx)
	for up, ch := mq.State(); !up; up, ch = mq.State() {
		<-ch
	}
	voice := benchVoice()
	topic := wire.Topics{Prefix: "ptt", Account: "bench"}.Voice(7)
	b.ReportAllocs()
	b.SetBytes(int64(len(voice)))
	for b.Loop() {
		mq.Publish(topic, 0, false, voice).Wait()
	}
}

// BenchmarkReceive is the client's receive path per packet: opening the
// SRTP packet, the statistics, the media header, the OnVoice call (the
// socket read is the kernel's and not in it).
func BenchmarkReceive(b *testing.B) {
	p := newPair(b)
	voice := benchVoice()
	const batch = 4096
	var pkts [][]byte
	i := batch
	b.ReportAllocs()
	b.SetBytes(int64(len(voice)))
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			pkts, i = p.packets(b, batch, voice), 0
			b.StartTimer()
		}
		p.c.handle(pkts[i], p.from, time.Now())
		i++
	}
	if p.c.stats.Received == 0 || p.c.stats.AuthFailures+p.c.stats.Replayed+p.c.stats.Malformed != 0 {
		b.Fatalf("stats %+v", p.c.stats)
	}
}

// BenchmarkSeal is the SRTP sealing alone (RTP header, media header,
// AES-128-GCM), without the system call.
func BenchmarkSeal(b *testing.B) {
	p := newPair(b)
	voice := benchVoice()
	b.ReportAllocs()
	b.SetBytes(int64(len(voice)))
	p.tx.mu.Lock()
	defer p.tx.mu.Unlock()
	for b.Loop() {
		if _, err := p.tx.sealVoice(7, "", voice); err != nil {
			b.Fatal(err)
		}
	}
}
