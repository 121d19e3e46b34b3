package linkmeter

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Services name the platform end's ports, e.g. {8883: "mqtt", 8443:
// "https", 5004: "media"}; traffic on other ports is "other".
type Services map[uint16]string

// Traffic is what one service (or the whole link) carried.
type Traffic struct {
	Packets, Bytes int64
	UpBytes        int64
	Payload        int64 // TCP and UDP payload bytes, both ways
	PureACKs       int   // TCP segments without data, SYN or FIN
	Probes         int   // TCP keep-alive probes (and their answers are pure ACKs)
	Connections    int   // TCP connections opened (SYNs sent up)
}

func (t *Traffic) add(p Packet, probe bool) {
	t.Packets++
	t.Bytes += int64(p.Size)
	if p.Up {
		t.UpBytes += int64(p.Size)
	}
	t.Payload += int64(p.Payload)
	if p.Proto != 6 {
		return
	}
	switch {
	case p.Flags&SYN != 0 && p.Flags&ACK == 0 && p.Up:
		t.Connections++
	case probe:
		t.Probes++
	case p.Payload == 0 && p.Flags&(SYN|FIN|RST) == 0:
		t.PureACKs++
	}
}

// WakeUp is a packet that found the radio idle.
type WakeUp struct {
	At      time.Time
	Service string
	Up      bool
	Payload int
	Probe   bool // a TCP keep-alive probe
}

// Report is a measurement window's traffic and the radio's behaviour.
type Report struct {
	From, To time.Time
	Total    Traffic
	Services map[string]*Traffic
	WakeUps  []WakeUp
	// High is how long the radio was in its high state within the window.
	High time.Duration
}

// Analyze measures the packets that crossed in [from, to). Packets before
// from only tell whether the radio was awake when the window began.
func Analyze(pkts []Packet, from, to time.Time, svc Services) Report {
	r := Report{From: from, To: to, Services: map[string]*Traffic{}}
	type flow struct {
		up             bool
		port, peerPort uint16
	}
	next := map[flow]uint32{} // the next sequence number each TCP sender will use
	pkts = slices.Clone(pkts)
	slices.SortStableFunc(pkts, func(a, b Packet) int { return a.At.Compare(b.At) })
	// The high state is the union of [packet, packet+Tail) over all
	// packets, cut to the window: hs..he is the stretch being merged.
	var last, hs, he time.Time
	high := func() {
		s, e := hs, he
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if !hs.IsZero() && e.After(s) {
			r.High += e.Sub(s)
		}
	}
	for _, p := range pkts {
		if !p.At.Before(to) {
			break
		}
		probe := false
		if p.Proto == 6 {
			f := flow{p.Up, p.Port, p.PeerPort}
			n, seen := next[f]
			// A keep-alive probe repeats the last byte already sent
			// (or none): its sequence number is one below the next.
			probe = seen && p.Payload <= 1 && p.Flags&(SYN|FIN|RST) == 0 && p.Seq == n-1
			end := p.Seq + uint32(p.Payload)
			if p.Flags&(SYN|FIN) != 0 {
				end++
			}
			if !seen || int32(end-n) > 0 {
				next[f] = end
			}
		}
		if !p.At.Before(from) {
			name := svc[p.Port]
			if name == "" {
				name = "other"
			}
			t := r.Services[name]
			if t == nil {
				t = &Traffic{}
				r.Services[name] = t
			}
			t.add(p, probe)
			r.Total.add(p, probe)
			if last.IsZero() || p.At.Sub(last) >= Tail {
				r.WakeUps = append(r.WakeUps, WakeUp{At: p.At, Service: name, Up: p.Up, Payload: p.Payload, Probe: probe})
			}
		}
		if p.At.After(he) {
			high()
			hs = p.At
		}
		he = p.At.Add(Tail)
		last = p.At
	}
	high()
	return r
}

// Window is the length of the measurement.
func (r Report) Window() time.Duration { return r.To.Sub(r.From) }

// PerDay extrapolates bytes in the window to a day.
func (r Report) PerDay(bytes int64) float64 {
	return float64(bytes) * float64(24*time.Hour) / float64(r.Window())
}

// WakeUpsPerHour extrapolates the window's wake-ups to an hour.
func (r Report) WakeUpsPerHour() float64 {
	return float64(len(r.WakeUps)) * float64(time.Hour) / float64(r.Window())
}

// HighShare is the share of the window the radio spent in its high state.
func (r Report) HighShare() float64 { return float64(r.High) / float64(r.Window()) }

// Service is the traffic of one service (zero if it carried none).
func (r Report) Service(name string) Traffic {
	if t := r.Services[name]; t != nil {
		return *t
	}
	return Traffic{}
}

// Causes counts the wake-ups by what started them: "mqtt up", "https up",
// "mqtt up probe", …
func (r Report) Causes() map[string]int {
	c := map[string]int{}
	for _, w := range r.WakeUps {
		k := w.Service + " down"
		if w.Up {
			k = w.Service + " up"
		}
		if w.Probe {
			k += " probe"
		}
		c[k]++
	}
	return c
}

// String summarises the report: per day and per hour figures, each
// service's share, and the wake-ups by cause.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "window %v: %.0f B/day (%.1f kB/day), %.1f wake-ups/h, radio high %.1f %%\n",
		r.Window().Round(time.Second), r.PerDay(r.Total.Bytes), r.PerDay(r.Total.Bytes)/1000, r.WakeUpsPerHour(), 100*r.HighShare())
	names := make([]string, 0, len(r.Services))
	for n := range r.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := r.Services[n]
		fmt.Fprintf(&b, "  %-6s %7d B (%.1f kB/day) in %d packets, %d pure ACKs, %d keep-alive probes, %d connections\n",
			n, t.Bytes, r.PerDay(t.Bytes)/1000, t.Packets, t.PureACKs, t.Probes, t.Connections)
	}
	causes := r.Causes()
	keys := make([]string, 0, len(causes))
	for k := range causes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  wake-ups by %s: %d\n", k, causes[k])
	}
	return b.String()
}
