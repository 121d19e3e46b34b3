// Package linkmeter measures what a handset costs a cellular link and its
// battery: every packet that crossed the link, as the kernels on both
// ends sent it (TCP/IP headers, pure ACKs, TLS records, keep-alive probes,
// UDP), with its time, and from that the bytes per day, the radio's
// wake-ups and the share of time it stays in its high-power state.
//
// It reads the packets of an internal/linkemu link (Meter.Tap is a
// linkemu Config.Tap) rather than proxying the connections: a proxy sees
// the bytes the sockets pass, not the segments the kernel makes of them,
// so it has to guess the TCP/IP overhead and the ACKs, and a TCP
// keep-alive probe — a segment without data — never reaches it at all.
//
// The radio model is LTE's: a packet in either direction when the link
// was silent for Tail (the RRC inactivity timer, 10 s) is a wake-up, and
// the radio stays in its high state from each packet until Tail after the
// last one.
package linkmeter

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pttagent/pttagent/internal/linkemu"
)

// Tail is the RRC inactivity timer of a typical LTE network: the radio
// drops to idle after this long without a packet.
const Tail = 10 * time.Second

// Packet is one IPv4 packet that crossed the link.
type Packet struct {
	At   time.Time
	Up   bool // handset to platform
	Size int  // IP total length: everything on the link
	// Proto is the IP protocol: 6 TCP, 17 UDP, other values as they come.
	Proto uint8
	// Port is the platform end's port (the source going down, the
	// destination going up), which names the service.
	Port     uint16
	PeerPort uint16 // the handset end's port
	Payload  int    // TCP or UDP payload bytes
	// TCP only.
	Flags    uint8
	Seq, Ack uint32
}

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Meter collects packets. Its methods are safe for concurrent use.
type Meter struct {
	// Log, if set, gets one line per packet (time, direction, size,
	// service port, flags, payload): the proxy log of a measurement.
	Log io.Writer

	mu   sync.Mutex
	pkts []Packet
	bad  int
}

// Tap records a packet; give it to linkemu.Config.Tap.
func (m *Meter) Tap(dir linkemu.Direction, at time.Time, b []byte) {
	p, ok := Parse(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		m.bad++
		return
	}
	p.At, p.Up = at, dir == linkemu.Uplink
	if p.Up {
		p.Port, p.PeerPort = p.PeerPort, p.Port
	}
	m.pkts = append(m.pkts, p)
	if m.Log != nil {
		fmt.Fprintln(m.Log, p)
	}
}

// Packets returns the packets seen so far, in the order they crossed.
func (m *Meter) Packets() []Packet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Packet(nil), m.pkts...)
}

// Unparsed counts packets that were not IPv4.
func (m *Meter) Unparsed() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bad
}

// Parse reads an IPv4 packet's headers. Port is the source port and
// PeerPort the destination; Tap swaps them for uplink packets.
func Parse(b []byte) (Packet, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Packet{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	size := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || size < ihl || len(b) < ihl {
		return Packet{}, false
	}
	p := Packet{Size: size, Proto: b[9]}
	l4 := b[ihl:min(len(b), size)]
	switch p.Proto {
	case 6:
		if len(l4) < 20 {
			return Packet{}, false
		}
		off := int(l4[12]>>4) * 4
		p.Port, p.PeerPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		p.Seq, p.Ack = binary.BigEndian.Uint32(l4[4:8]), binary.BigEndian.Uint32(l4[8:12])
		p.Flags = l4[13]
		p.Payload = size - ihl - off
	case 17:
		if len(l4) < 8 {
			return Packet{}, false
		}
		p.Port, p.PeerPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		p.Payload = size - ihl - 8
	}
	return p, true
}

func (p Packet) String() string {
	dir := "down"
	if p.Up {
		dir = "up  "
	}
	proto := fmt.Sprintf("ip%d", p.Proto)
	switch p.Proto {
	case 6:
		proto = "tcp"
	case 17:
		proto = "udp"
	}
	s := fmt.Sprintf("%s %s %s :%d<->:%d %5d B payload %5d", p.At.Format("15:04:05.000000"), dir, proto, p.PeerPort, p.Port, p.Size, p.Payload)
	if p.Proto == 6 {
		s += " " + flagString(p.Flags) + fmt.Sprintf(" seq %d ack %d", p.Seq, p.Ack)
	}
	return s
}

func flagString(f uint8) string {
	b := []byte(".....")
	for i, c := range []struct {
		bit uint8
		ch  byte
	}{{SYN, 'S'}, {FIN, 'F'}, {RST, 'R'}, {PSH, 'P'}, {ACK, 'A'}} {
		if f&c.bit != 0 {
			b[i] = c.ch
		}
	}
	return string(b)
}
