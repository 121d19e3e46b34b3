// Package mediatest puts a real UDP hop between handsets and the media
// relay in tests: a NAT that gives each handset its own outside port, as
// a carrier NAT does, and that a test can make block, lose packets, or
// move a handset to a new outside port (a NAT rebinding or a handover).
package mediatest

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

// Rule is what the NAT does to one handset's packets.
type Rule struct {
	Block bool // drop everything, both ways (a blocked port, no coverage)
	// UpEvery and DownEvery drop every nth packet handset → relay and
	// relay → handset (0: none): a loss rate that is exact, so a test can
	// compare what was measured with what was done.
	UpEvery, DownEvery int
}

// NAT is a UDP NAT on loopback. Handsets send to Addr; the NAT sends on
// to the target from one outside socket per handset.
type NAT struct {
	t      testing.TB
	in     *net.UDPConn
	mu     sync.Mutex
	target netip.AddrPort
	maps   map[netip.AddrPort]*mapping
	rules  map[int]Rule // by the handset's port
	tap    bool
	up     [][]byte
	closed bool
}

type mapping struct {
	inside     netip.AddrPort
	out        *net.UDPConn
	upN, downN int
}

// Start runs a NAT until the test ends.
func Start(t testing.TB) *NAT {
	t.Helper()
	in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	n := &NAT{t: t, in: in, maps: map[netip.AddrPort]*mapping{}, rules: map[int]Rule{}}
	go n.inbound()
	t.Cleanup(n.close)
	return n
}

// Addr is where handsets send (the relay address the platform hands out).
func (n *NAT) Addr() string { return n.in.LocalAddr().String() }

// SetTarget says where the relay is.
func (n *NAT) SetTarget(addr string) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		n.t.Fatalf("mediatest: target %q: %v", addr, err)
	}
	n.mu.Lock()
	n.target = ap
	n.mu.Unlock()
}

// Set applies r to the handset whose UDP port is port.
func (n *NAT) Set(port int, r Rule) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rules[port] = r
	for _, m := range n.maps {
		if int(m.inside.Port()) == port {
			m.upN, m.downN = 0, 0
		}
	}
}

// Tap records every packet handsets send from now on (an eavesdropper's
// view of the link).
func (n *NAT) Tap() {
	n.mu.Lock()
	n.tap = true
	n.mu.Unlock()
}

// Tapped returns copies of the packets recorded.
func (n *NAT) Tapped() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.up)
}

// Rebind gives the handset on port a new outside port, as a NAT that
// lost the binding or a handover to another network does; the relay sees
// its packets come from a new address.
func (n *NAT) Rebind(port int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, m := range n.maps {
		if int(m.inside.Port()) == port {
			m.out.Close()
			delete(n.maps, k)
		}
	}
}

func (n *NAT) inbound() {
	buf := make([]byte, 65536)
	for {
		k, from, err := n.in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		n.mu.Lock()
		if n.closed || !n.target.IsValid() {
			n.mu.Unlock()
			continue
		}
		m := n.maps[from]
		if m == nil {
			out, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				n.mu.Unlock()
				n.t.Errorf("mediatest: outside socket: %v", err)
				continue
			}
			m = &mapping{inside: from, out: out}
			n.maps[from] = m
			go n.outbound(m)
		}
		r := n.rules[int(from.Port())]
		m.upN++
		drop := r.Block || r.UpEvery > 0 && m.upN%r.UpEvery == 0
		if n.tap {
			n.up = append(n.up, slices.Clone(buf[:k]))
		}
		target, out := n.target, m.out
		n.mu.Unlock()
		if !drop {
			out.WriteToUDPAddrPort(buf[:k], target)
		}
	}
}

func (n *NAT) outbound(m *mapping) {
	buf := make([]byte, 65536)
	for {
		k, _, err := m.out.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		n.mu.Lock()
		r := n.rules[int(m.inside.Port())]
		m.downN++
		drop := r.Block || r.DownEvery > 0 && m.downN%r.DownEvery == 0
		n.mu.Unlock()
		if !drop {
			n.in.WriteToUDPAddrPort(buf[:k], m.inside)
		}
	}
}

func (n *NAT) close() {
	n.mu.Lock()
	n.closed = true
	for _, m := range n.maps {
		m.out.Close()
	}
	n.mu.Unlock()
	n.in.Close()
}
