package linkmeter

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/linkemu"
)

// tcpPacket builds an IPv4 TCP packet with the 12 bytes of timestamp
// options Linux sends, so its headers are the 52 bytes of a real segment.
func tcpPacket(src, dst uint16, seq, ack uint32, flags uint8, payload int) []byte {
	b := make([]byte, 20+32+payload)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[9] = 6
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:], src)
	binary.BigEndian.PutUint16(t[2:], dst)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = 8 << 4
	t[13] = flags
	return b
}

func udpPacket(src, dst uint16, payload int) []byte {
	b := make([]byte, 28+payload)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[9] = 17
	binary.BigEndian.PutUint16(b[20:], src)
	binary.BigEndian.PutUint16(b[22:], dst)
	return b
}

func TestAnalyze(t *testing.T) {
	var m Meter
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	up, down := linkemu.Uplink, linkemu.Downlink
	const mqtt, h = 8883, 40000
	// A connection, a publish with its PUBACK and ACK, then a keep-alive
	// probe 15 s later and its answer, then a UDP keep-alive 30 s later.
	m.Tap(up, at(0), tcpPacket(h, mqtt, 99, 0, SYN, 0))
	m.Tap(down, at(0.05), tcpPacket(mqtt, h, 499, 100, SYN|ACK, 0))
	m.Tap(up, at(0.1), tcpPacket(h, mqtt, 100, 500, ACK, 0))
	m.Tap(up, at(60), tcpPacket(h, mqtt, 100, 500, ACK|PSH, 130))
	m.Tap(down, at(60.05), tcpPacket(mqtt, h, 500, 230, ACK|PSH, 26))
	m.Tap(up, at(60.09), tcpPacket(h, mqtt, 230, 526, ACK, 0))
	m.Tap(up, at(75.09), tcpPacket(h, mqtt, 229, 526, ACK, 0)) // probe
	m.Tap(down, at(75.14), tcpPacket(mqtt, h, 526, 230, ACK, 0))
	m.Tap(up, at(105.14), udpPacket(h, 5004, 40))
	m.Tap(up, at(106), []byte{0x60, 0, 0, 0}) // IPv6: not ours

	r := Analyze(m.Packets(), at(30), at(150), Services{mqtt: "mqtt", 5004: "media"})
	if m.Unparsed() != 1 {
		t.Errorf("unparsed %d, want 1", m.Unparsed())
	}
	if got, want := r.Total.Packets, int64(6); got != want {
		t.Errorf("packets %d, want %d", got, want)
	}
	mq := r.Service("mqtt")
	if mq.Bytes != 5*52+130+26 || mq.Probes != 1 || mq.PureACKs != 2 || mq.Connections != 0 {
		t.Errorf("mqtt traffic %+v", mq)
	}
	if r.Service("media").Bytes != 68 {
		t.Errorf("media traffic %+v", r.Service("media"))
	}
	// Wake-ups: the publish at 60, the probe at 75.09, the UDP at 105.14.
	if len(r.WakeUps) != 3 || !r.WakeUps[1].Probe || r.WakeUps[2].Service != "media" {
		t.Fatalf("wake-ups %+v", r.WakeUps)
	}
	if c := r.Causes(); c["mqtt up probe"] != 1 || c["mqtt up"] != 1 || c["media up"] != 1 {
		t.Errorf("causes %v", c)
	}
	// High: 60–70.09 merged with 75.09–85.14 (separate), 105.14–115.14.
	want := 10090*time.Millisecond + 10050*time.Millisecond + 10*time.Second
	if r.High != want {
		t.Errorf("high %v, want %v", r.High, want)
	}
	if r.WakeUpsPerHour() != 90 {
		t.Errorf("wake-ups/h %v, want 90", r.WakeUpsPerHour())
	}
	// A window starting inside a tail counts the rest of it, and no
	// wake-up for a packet that found the radio high.
	r = Analyze(m.Packets(), at(65), at(70), nil)
	if r.High != 5*time.Second || len(r.WakeUps) != 0 {
		t.Errorf("window in a tail: high %v, wake-ups %d", r.High, len(r.WakeUps))
	}
	r = Analyze(m.Packets(), at(62), at(72), nil)
	if r.High != 8090*time.Millisecond {
		t.Errorf("window over a tail's end: high %v", r.High)
	}
}
