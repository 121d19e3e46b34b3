package media

import (
	"time"
)

// RecvStats are the receiver statistics of one RTP stream, as RFC 3550
// computes them for receiver reports (appendix A.1, A.3, A.8): packets
// received and lost by sequence number, and the interarrival jitter. No
// probation for a new source: packets are authenticated before they get
// here, so a stray source cannot start a stream.
type RecvStats struct {
	started  bool
	epoch    time.Time // arrival clock origin
	base     uint32
	maxSeq   uint16
	cycles   uint32
	received uint64
	late     uint64
	transit  int64
	least    int64   // the least transit time of this burst
	jitter   float64 // RTP timestamp units
	// qSum, qN: the queueing delays (transit − least) since the last
	// IntervalQueue.
	qSum int64
	qN   int64

	expectedPrior, receivedPrior uint64
}

// Update accounts one packet that arrived at arrival and reports whether
// it is the newest of the stream so far. A marker (a new burst: the
// timestamps jump) restarts the transit time instead of counting the jump
// as jitter.
func (r *RecvStats) Update(seq uint16, ts uint32, marker bool, arrival time.Time) bool {
	at := int64(arrival.Sub(r.epoch) / (time.Second / ClockRate))
	if !r.started {
		r.started, r.epoch = true, arrival
		r.base, r.maxSeq, r.received = uint32(seq), seq, 1
		r.transit = -int64(ts)
		r.least = r.transit
		return true
	}
	newest := false
	if d := int16(seq - r.maxSeq); d > 0 {
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
		newest = true
	} else {
		r.late++
	}
	r.received++
	transit := at - int64(ts)
	if marker {
		r.least = transit
	} else {
		d := transit - r.transit
		if d < 0 {
			d = -d
		}
		r.jitter += (float64(d) - r.jitter) / 16
		r.least = min(r.least, transit)
	}
	r.transit = transit
	r.qSum += transit - r.least
	r.qN++
	return newest
}

// IntervalQueue is the mean queueing delay (as Queue) of the packets since
// the last call, in RTP timestamp units, and starts a new interval. What a
// listener's playout must wait for: a link near its rate delivers voice in
// clumps that queue behind each other, which the mean shows and the
// interval's quickest packet does not. 0 when no packet came.
func (r *RecvStats) IntervalQueue() uint32 {
	q := r.MeanQueue()
	r.qSum, r.qN = 0, 0
	return q
}

// MeanQueue is the mean queueing delay of the packets since the last
// IntervalQueue, without starting a new interval.
func (r *RecvStats) MeanQueue() uint32 {
	if r.qN == 0 {
		return 0
	}
	return uint32(max(0, r.qSum/r.qN))
}

// Queue is how much later than at its quickest in this burst the last
// packet arrived, in RTP timestamp units: the delay of packets queueing
// behind each other somewhere on the way (the sender's clock and ours
// need not agree; only the growth counts).
func (r *RecvStats) Queue() uint32 { return uint32(max(0, r.transit-r.least)) }

// ExtMax is the extended highest sequence number received.
func (r *RecvStats) ExtMax() uint32 { return r.cycles + uint32(r.maxSeq) }

// Received counts packets; Late those that came after a later one.
func (r *RecvStats) Received() uint64 { return r.received }
func (r *RecvStats) Late() uint64     { return r.late }

// Lost is the cumulative number of packets expected and not received.
func (r *RecvStats) Lost() int64 {
	if !r.started {
		return 0
	}
	return int64(r.ExtMax()-r.base+1) - int64(r.received)
}

// Jitter is the interarrival jitter in RTP timestamp units.
func (r *RecvStats) Jitter() uint32 { return uint32(r.jitter) }

// Interval returns the fraction lost (in 1/256) since the previous call —
// RFC 3550's receiver report field — and starts a new interval.
func (r *RecvStats) Interval() uint8 {
	if !r.started {
		return 0
	}
	expected := uint64(r.ExtMax()-r.base) + 1
	expInt := expected - r.expectedPrior
	recInt := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	if expInt == 0 || recInt >= expInt {
		return 0
	}
	return uint8(min(255, ((expInt-recInt)<<8)/expInt))
}

// JitterMs converts RTP timestamp units to milliseconds.
func JitterMs(ticks uint32) float64 { return float64(ticks) * 1000 / ClockRate }
