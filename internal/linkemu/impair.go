package linkemu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile is what one direction of a link does to packets. The zero
// Profile is a clean link: packets pass at once, none lost.
//
// A packet goes through the stages in the order a cellular link applies
// them: dropped during a blackout; tail-dropped when the queue in front of
// the radio is full; sent at Rate; lost on the air (having used its
// airtime); delayed by Delay plus jitter, in order.
type Profile struct {
	// Delay is the one-way delay every packet gets (propagation, core
	// network).
	Delay time.Duration
	// Jitter is the standard deviation σ of a normal sample whose absolute
	// value is added to Delay. Packets still leave in the order they came,
	// as over a cellular RLC link, which reorders nothing: a packet is never
	// released before the one ahead of it, so a late packet also delays
	// those right behind it.
	Jitter time.Duration
	// Loss is the long-run probability that a packet is lost, in [0, 1).
	Loss float64
	// LossBurst is the mean length, in packets, of a run of losses. Above 1
	// losses follow a Gilbert–Elliott model (a good state that loses
	// nothing, a bad state that loses everything) with the long-run rate
	// Loss; 0 or 1 means each packet is lost independently.
	LossBurst float64
	// Rate is the capacity in bits/s; 0 means unlimited. A packet of n
	// bytes takes n*8/Rate seconds to send.
	Rate int64
	// QueueBytes is the buffer in front of the Rate limiter: a packet that
	// does not fit behind the bytes still waiting is dropped (tail drop).
	// An idle link always takes one packet. 0 means 300 ms worth of Rate,
	// or four full-size packets if that is more. Without a Rate it has no
	// effect.
	QueueBytes int
}

// MTU of both ends of a link: what cellular bearers commonly offer once
// the operator's tunnelling is taken off a 1500-byte path.
const MTU = 1400

// defaultQueueTime and defaultQueuePackets size the queue when
// Profile.QueueBytes is 0: long enough for TCP to keep a slow link busy,
// short enough that a voice packet is not held for seconds. At 64 kbit/s
// 300 ms is less than two full packets, and TCP would lose one from almost
// every window; four packets keep the link busy.
const (
	defaultQueueTime    = 300 * time.Millisecond
	defaultQueuePackets = 4
)

// Validate reports the first field that has no meaning, and what would.
func (p Profile) Validate() error {
	switch {
	case p.Delay < 0:
		return fmt.Errorf("profile Delay %v: want 0 or more", p.Delay)
	case p.Jitter < 0:
		return fmt.Errorf("profile Jitter %v: want 0 or more", p.Jitter)
	case !(p.Loss >= 0 && p.Loss < 1): // also catches NaN
		return fmt.Errorf("profile Loss %v: want a probability in [0, 1)", p.Loss)
	case !(p.LossBurst >= 0) || math.IsInf(p.LossBurst, 0):
		return fmt.Errorf("profile LossBurst %v: want a mean burst length in packets, 0 or more", p.LossBurst)
	case p.Rate < 0:
		return fmt.Errorf("profile Rate %d: want bits/s, or 0 for unlimited", p.Rate)
	case p.QueueBytes < 0:
		return fmt.Errorf("profile QueueBytes %d: want bytes, or 0 for %v worth of Rate (at least %d packets)", p.QueueBytes, defaultQueueTime, defaultQueuePackets)
	}
	return nil
}

// queueLimit is QueueBytes with its default filled in.
func (p Profile) queueLimit() int64 {
	if p.QueueBytes > 0 {
		return int64(p.QueueBytes)
	}
	return max(p.Rate*int64(defaultQueueTime)/int64(8*time.Second), defaultQueuePackets*MTU)
}

// airtime is how long n bytes take at Rate.
func (p Profile) airtime(n int) time.Duration {
	if p.Rate == 0 {
		return 0
	}
	return time.Duration(int64(n) * 8 * int64(time.Second) / p.Rate)
}

// Stats counts what one direction of a link did. Every packet in is out,
// dropped for one reason, or still in flight.
type Stats struct {
	PacketsIn, BytesIn   int64 // taken from the sending end
	PacketsOut, BytesOut int64 // handed to the receiving end

	DroppedLoss     int64 // lost at random (Loss, LossBurst)
	DroppedQueue    int64 // tail-dropped: the queue in front of Rate was full
	DroppedBlackout int64 // sent into, or due out during, a Blackout
	DroppedWrite    int64 // the receiving end refused it (its device is down)

	// MaxQueueDelay is the longest a packet waited behind others for
	// its turn at Rate.
	MaxQueueDelay time.Duration
}

// dropReason is why the model dropped a packet; keep is none.
type dropReason int

const (
	keep dropReason = iota
	dropLoss
	dropQueue
	dropBlackout
)

// packet is an IP packet in flight and the time it is due out.
type packet struct {
	due  time.Time
	data []byte
}

// maxInFlight bounds the bytes held by one direction, so that a stall
// under a flood cannot eat the test's memory. Past it packets count as
// queue drops.
const maxInFlight = 64 << 20

// model is one direction's impairment state. It is given the time of
// every event, so tests can drive it with made-up clocks; it does no I/O
// and no locking.
type model struct {
	prof Profile
	rng  *rand.Rand

	lossBad     bool      // Gilbert–Elliott state
	airFree     time.Time // when the radio finishes the packets it has taken
	lastDue     time.Time // when the latest packet is due out: none may leave before it
	stallEnd    time.Time // nothing leaves before this
	blackoutEnd time.Time // everything arriving or due out before this is lost

	inFlight      []packet // in arrival order, which is also due order
	inFlightBytes int
	stats         Stats
}

func newModel(p Profile, seed1, seed2 uint64) *model {
	return &model{prof: p, rng: rand.New(rand.NewPCG(seed1, seed2))}
}

// arrive takes a packet that came in at now, and says whether it is
// dropped. A packet kept is queued in inFlight with the time it is due.
func (m *model) arrive(now time.Time, data []byte) dropReason {
	n := len(data)
	m.stats.PacketsIn++
	m.stats.BytesIn += int64(n)
	if now.Before(m.blackoutEnd) {
		m.stats.DroppedBlackout++
		return dropBlackout
	}
	if m.inFlightBytes+n > maxInFlight {
		m.stats.DroppedQueue++
		return dropQueue
	}
	p := m.prof
	sent := now
	if p.Rate > 0 {
		start := now
		if m.airFree.After(now) {
			start = m.airFree
			// The radio is sending at a constant rate until airFree, so
			// the bytes still waiting follow from the time left.
			waiting := int64(m.airFree.Sub(now)) * p.Rate / int64(8*time.Second)
			if waiting+int64(n) > p.queueLimit() {
				m.stats.DroppedQueue++
				return dropQueue
			}
		}
		m.stats.MaxQueueDelay = max(m.stats.MaxQueueDelay, start.Sub(now))
		sent = start.Add(p.airtime(n))
		m.airFree = sent
	}
	if m.lost() {
		m.stats.DroppedLoss++
		return dropLoss
	}
	due := sent.Add(p.Delay)
	if p.Jitter > 0 {
		due = due.Add(time.Duration(math.Abs(m.rng.NormFloat64()) * float64(p.Jitter)))
	}
	if due.Before(m.lastDue) {
		due = m.lastDue // no overtaking
	}
	m.lastDue = due
	m.inFlight = append(m.inFlight, packet{due: due, data: data})
	m.inFlightBytes += n
	return keep
}

// lost draws whether the next packet on the air is lost.
func (m *model) lost() bool {
	p := m.prof
	if p.Loss == 0 {
		m.lossBad = false
		return false
	}
	if p.LossBurst <= 1 {
		return m.rng.Float64() < p.Loss
	}
	// Leaving the bad state with probability r makes bursts geometric
	// with mean 1/r; entering it with g = Loss·r/(1−Loss) makes the
	// share of time spent in it, g/(g+r), equal to Loss.
	r := 1 / p.LossBurst
	if m.lossBad {
		m.lossBad = m.rng.Float64() >= r
	} else {
		m.lossBad = m.rng.Float64() < p.Loss*r/(1-p.Loss)
	}
	return m.lossBad
}

// next is when the first packet in flight may leave: its due time, or the
// end of a stall if later. ok is false when nothing is in flight.
func (m *model) next() (t time.Time, ok bool) {
	if len(m.inFlight) == 0 {
		return time.Time{}, false
	}
	t = m.inFlight[0].due
	if m.stallEnd.After(t) {
		t = m.stallEnd
	}
	return t, true
}

// pop removes the first packet in flight if it may leave at now. A packet
// due during a blackout is counted lost and returned with drop set.
func (m *model) pop(now time.Time) (data []byte, drop dropReason, ok bool) {
	t, ok := m.next()
	if !ok || t.After(now) {
		return nil, keep, false
	}
	data = m.inFlight[0].data
	m.inFlight[0] = packet{} // let the bytes go
	m.inFlight = m.inFlight[1:]
	m.inFlightBytes -= len(data)
	if now.Before(m.blackoutEnd) {
		m.stats.DroppedBlackout++
		return nil, dropBlackout, true
	}
	return data, keep, true
}

// sent counts a packet handed to the receiving end.
func (m *model) sent(n int) {
	m.stats.PacketsOut++
	m.stats.BytesOut += int64(n)
}

// stall holds every packet from now until now+d, then lets the backlog go
// at once, as a cellular link does with what it buffered during a
// handover. Stalls overlap to the latest end.
func (m *model) stall(now time.Time, d time.Duration) {
	if end := now.Add(d); end.After(m.stallEnd) {
		m.stallEnd = end
	}
}

// blackout loses everything arriving, or due out, from now until now+d.
func (m *model) blackout(now time.Time, d time.Duration) {
	if end := now.Add(d); end.After(m.blackoutEnd) {
		m.blackoutEnd = end
	}
}
