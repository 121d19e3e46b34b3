package uplink

import (
	"math"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// Hold says how long points already on disk may wait before they are
// sent, so that several share one message and one radio wake-up. Every
// point is taken at the platform's period and stored at once; only the
// sending waits, so nothing is lost by holding (docs/protocol.md).
//
// A point goes at once when a whole batch waits, when the radio is awake
// anyway (other traffic within the last seconds), and before the MQTT
// keep-alive would send a ping: the publish keeps the connection alive
// in its place. Otherwise it waits up to Delay while the next point is
// due within that time (a short period), and up to ParkedDelay while the
// handset is parked: its points stay within their fixes' accuracy of the
// last one sent.
type Hold struct {
	// Delay is how long a point may wait for the next one to share its
	// message; 0 sends each point at once.
	Delay time.Duration
	// ParkedDelay is how long points may wait while the handset is
	// parked; 0 (or less than Delay): as Delay.
	ParkedDelay time.Duration
}

// Parked: a point within parkedRadius of the last one sent, at no more
// than parkedSpeed, did not move.
const (
	// uere is the user equivalent range error of a GNSS receiver under
	// open sky (4–6 m): HDOP × UERE estimates the 1σ horizontal error.
	uere = 5.0
	// parkedMinRadius is the least radius (metres) taken for "has not
	// moved": twice a good fix's 1σ, where HDOP understates it.
	parkedMinRadius = 10.0
	// parkedSpeed (km/h): faster is moving whatever the positions say.
	parkedSpeed = 3.0
)

// keepAliveMargin is how long before the MQTT keep-alive's ping held
// points go instead: paho pings at the first of its 5 s checks after the
// keep-alive period.
const keepAliveMargin = 5 * time.Second

// awakeWithin: traffic this recent means the radio is still in its high
// state (LTE keeps it there for 10 s); sending now only stretches that.
const awakeWithin = 2 * time.Second

// holdState is what the hold decides from: the points waiting (oldest
// first, at most a batch), the last point sent before them, when the
// oldest began to wait, and the links' news.
type holdState struct {
	now     time.Time
	waiting []wire.Point
	full    bool      // a whole batch waits
	since   time.Time // when the sender first saw the oldest waiting
	prev    wire.Point
	hasPrev bool
	awake   bool      // the radio is awake
	pingDue time.Time // the MQTT keep-alive's next ping; zero: unknown
}

// until is when the waiting points must go: at or before now means at
// once.
func (h Hold) until(s holdState) time.Time {
	if len(s.waiting) == 0 || h.Delay <= 0 && h.ParkedDelay <= 0 || s.full || s.awake {
		return s.now
	}
	delay := h.Delay
	if h.ParkedDelay > delay && parked(s) {
		delay = h.ParkedDelay
	} else if !nextSoon(s, h.Delay) {
		return s.now
	}
	at := s.since.Add(delay)
	if !s.pingDue.IsZero() {
		if ka := s.pingDue.Add(-keepAliveMargin); ka.Before(at) {
			at = ka
		}
	}
	return at
}

// nextSoon: the points come closer together than delay, judged by the
// last two (the period the platform set, or corner pegging).
func nextSoon(s holdState, delay time.Duration) bool {
	last := s.waiting[len(s.waiting)-1]
	var before wire.Point
	switch {
	case len(s.waiting) > 1:
		before = s.waiting[len(s.waiting)-2]
	case s.hasPrev:
		before = s.prev
	default:
		return false // the first point: nothing says when the next comes
	}
	gap := time.Duration(last.Created-before.Created) * time.Second
	return gap >= 0 && gap < delay
}

// parked: every waiting point is within its accuracy of the reference
// (the last point sent, else the oldest waiting) and slow.
func parked(s holdState) bool {
	ref := s.waiting[0]
	if s.hasPrev {
		ref = s.prev
	}
	for i := range s.waiting {
		p := &s.waiting[i]
		if p.Speed > parkedSpeed {
			return false
		}
		r := max(parkedMinRadius, 2*uere*ref.HDOP, 2*uere*p.HDOP)
		if math.IsNaN(r) || apart(&ref, p) > r {
			return false
		}
	}
	return true
}

// apart is the distance between two points in metres, on the plane
// tangent at the first: exact to well under a metre at the tens of metres
// that matter here.
func apart(a, b *wire.Point) float64 {
	const perDegree = 6371008.8 * math.Pi / 180
	dy := (b.Latitude - a.Latitude) * perDegree
	dx := (b.Longitude - a.Longitude) * perDegree * math.Cos(a.Latitude*math.Pi/180)
	return math.Hypot(dx, dy)
}
