package media

import (
	"testing"
	"time"
)

func TestRecvStatsLossAcrossTheSequenceWrap(t *testing.T) {
	var r RecvStats
	t0 := time.Unix(1000, 0)
	seq := uint16(65500)
	for i := range 100 {
		if i%10 != 9 { // one in ten lost
			r.Update(seq, uint32(i)*960, i == 0, t0.Add(time.Duration(i)*20*time.Millisecond))
		}
		seq++
	}
	if got, want := r.ExtMax(), uint32(65500+98); got != want {
		t.Errorf("ExtMax %d, want %d (the last packet, 99, was lost)", got, want)
	}
	if r.Lost() != 9 || r.Received() != 90 {
		t.Errorf("lost %d received %d, want 9 and 90", r.Lost(), r.Received())
	}
	if f := r.Interval(); f != 23 { // 9/99 × 256
		t.Errorf("fraction lost %d/256, want 23", f)
	}
	if f := r.Interval(); f != 0 {
		t.Errorf("an empty interval lost %d/256", f)
	}
	// A straggler: late, not lost any more, and not the newest.
	if r.Update(65500+98-65536, 98*960, false, t0.Add(3*time.Second)) {
		t.Error("a late packet was the newest")
	}
	if r.Late() != 1 || r.Lost() != 8 {
		t.Errorf("late %d lost %d, want 1 and 8", r.Late(), r.Lost())
	}
}

// Jitter and queueing delay: packets 20 ms of media apart arrive 20 ms
// apart (neither), then each 10 ms later than the one before (voice
// queueing behind itself: a growing delay, a steady jitter); a new burst
// starts afresh.
func TestRecvStatsJitterAndQueue(t *testing.T) {
	var r RecvStats
	t0 := time.Unix(1000, 0)
	at := t0
	for i := range 50 {
		r.Update(uint16(i), uint32(i)*960, i == 0, at)
		at = at.Add(20 * time.Millisecond)
	}
	if r.Jitter() != 0 || r.Queue() != 0 {
		t.Errorf("steady arrivals: jitter %d, queue %d", r.Jitter(), r.Queue())
	}
	for i := 50; i < 100; i++ {
		at = at.Add(30 * time.Millisecond)
		r.Update(uint16(i), uint32(i)*960, false, at)
	}
	if q := JitterMs(r.Queue()); q < 515 || q > 525 {
		t.Errorf("queue %.0f ms, want 520 (the first 30 ms late, the 49 after it each 10 ms later)", q)
	}
	if j := JitterMs(r.Jitter()); j < 9 || j > 10.5 {
		t.Errorf("jitter %.1f ms, want about 10", j)
	}
	r.Update(100, 500*960, true, at.Add(time.Second))
	if r.Queue() != 0 {
		t.Errorf("a new burst starts with queue %d", r.Queue())
	}
}

// The interval queue is the mean queueing delay since the last report:
// rare jitter spikes add little, a queue that every packet waits in all
// of itself.
func TestRecvStatsIntervalQueue(t *testing.T) {
	var r RecvStats
	at := time.Unix(1000, 0)
	for i := range 50 {
		late := time.Duration(0)
		if i%10 == 5 {
			late = 150 * time.Millisecond // a spike, then back
		}
		r.Update(uint16(i), uint32(i)*960, i == 0, at.Add(late))
		at = at.Add(20 * time.Millisecond)
	}
	if q := JitterMs(r.IntervalQueue()); q < 14 || q > 16 {
		t.Errorf("a 150 ms spike every tenth packet: interval queue %.1f ms, want 15", q)
	}
	for i := 50; i < 100; i++ {
		r.Update(uint16(i), uint32(i)*960, false, at.Add(200*time.Millisecond+time.Duration(i%2)*20*time.Millisecond))
		at = at.Add(20 * time.Millisecond)
	}
	if q := JitterMs(r.IntervalQueue()); q < 209 || q > 211 {
		t.Errorf("every packet 200 or 220 ms late: interval queue %.1f ms, want 210", q)
	}
	if q := r.IntervalQueue(); q != 0 {
		t.Errorf("no packet since the last interval: %d, want 0", q)
	}
}
