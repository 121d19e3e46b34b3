package linkemu

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the made-up clock's start for the model tests.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// drain pops everything in flight, as release would, each at its due time.
func drain(m *model) (due []time.Time) {
	for {
		t, ok := m.next()
		if !ok {
			return due
		}
		if _, drop, _ := m.pop(t); drop == keep {
			due = append(due, t)
		}
	}
}

func TestProfileValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		want string // in the error; "" for valid
	}{
		{Profile{}, ""},
		{LTE, ""},
		{CellEdge, ""},
		{Profile{Delay: -1}, "Delay"},
		{Profile{Jitter: -1}, "Jitter"},
		{Profile{Loss: 1}, "Loss"},
		{Profile{Loss: -0.1}, "Loss"},
		{Profile{Loss: math.NaN()}, "Loss"},
		{Profile{LossBurst: -1}, "LossBurst"},
		{Profile{LossBurst: math.Inf(1)}, "LossBurst"},
		{Profile{Rate: -1}, "Rate"},
		{Profile{QueueBytes: -1}, "QueueBytes"},
	} {
		err := tc.p.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want an error naming %q", tc.p, err, tc.want)
		}
	}
}

// Jitter delays but never reorders: each due time is at least Delay after
// arrival and not before the one ahead.
func TestModelJitterKeepsOrder(t *testing.T) {
	m := newModel(Profile{Delay: 30 * time.Millisecond, Jitter: 20 * time.Millisecond}, 1, 0)
	var arrivals []time.Time
	for i := range 2000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		arrivals = append(arrivals, at)
		if m.arrive(at, make([]byte, 100)) != keep {
			t.Fatalf("packet %d dropped on a lossless profile", i)
		}
	}
	due := drain(m)
	if len(due) != len(arrivals) {
		t.Fatalf("%d packets out, want %d", len(due), len(arrivals))
	}
	if !slices.IsSortedFunc(due, time.Time.Compare) {
		t.Error("packets leave out of order")
	}
	var late int
	for i, d := range due {
		if delay := d.Sub(arrivals[i]); delay < 30*time.Millisecond {
			t.Fatalf("packet %d delayed %v, less than Delay", i, delay)
		} else if delay > 60*time.Millisecond {
			late++
		}
	}
	if late == 0 {
		t.Error("no packet delayed by more than 1.5σ of jitter: is jitter applied?")
	}
}

func TestModelLoss(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct {
		loss, burst float64
	}{
		{0.02, 0},
		{0.05, 1},
		{0.05, 4},
		{0.3, 2.5},
	} {
		m := newModel(Profile{Loss: tc.loss, LossBurst: tc.burst}, 7, 0)
		var lost, bursts int
		prevLost := false
		for i := range n {
			l := m.arrive(t0.Add(time.Duration(i)*time.Millisecond), []byte{0}) == dropLoss
			if l {
				lost++
				if !prevLost {
					bursts++
				}
			}
			prevLost = l
		}
		rate := float64(lost) / n
		meanBurst := float64(lost) / float64(bursts)
		wantBurst := max(tc.burst, 1/(1-tc.loss)) // independent losses still run together by chance
		if math.Abs(rate-tc.loss) > 0.1*tc.loss {
			t.Errorf("Loss %v LossBurst %v: lost %.4f of packets", tc.loss, tc.burst, rate)
		}
		if math.Abs(meanBurst-wantBurst) > 0.1*wantBurst {
			t.Errorf("Loss %v LossBurst %v: mean burst %.2f packets, want %.2f", tc.loss, tc.burst, meanBurst, wantBurst)
		}
		if got := m.stats.DroppedLoss; got != int64(lost) {
			t.Errorf("Stats.DroppedLoss = %d, want %d", got, lost)
		}
	}
}

// At Rate a packet takes its airtime, a full queue drops, and the wait
// behind others is reported.
func TestModelRate(t *testing.T) {
	// 1000-byte packets at 80 kbit/s take 100 ms; the queue holds 3000
	// bytes, the one on the air included.
	m := newModel(Profile{Rate: 80_000, QueueBytes: 3000}, 1, 0)
	var kept []int
	for i := range 5 { // a burst, all at t0
		if m.arrive(t0, make([]byte, 1000)) == keep {
			kept = append(kept, i)
		}
	}
	// Three fill the queue; the fourth finds 3000 bytes unsent.
	if want := []int{0, 1, 2}; !slices.Equal(kept, want) {
		t.Fatalf("kept packets %v of a burst of 5, want %v", kept, want)
	}
	due := drain(m)
	for i, d := range due {
		if want := t0.Add(time.Duration(i+1) * 100 * time.Millisecond); !d.Equal(want) {
			t.Errorf("packet %d out at +%v, want +%v", i, d.Sub(t0), want.Sub(t0))
		}
	}
	s := m.stats
	if s.DroppedQueue != 2 || s.MaxQueueDelay != 200*time.Millisecond {
		t.Errorf("DroppedQueue %d, MaxQueueDelay %v; want 2, 200ms", s.DroppedQueue, s.MaxQueueDelay)
	}
	// An idle link takes a packet larger than its queue.
	m = newModel(Profile{Rate: 80_000, QueueBytes: 100}, 1, 0)
	if m.arrive(t0, make([]byte, 1000)) != keep {
		t.Error("an idle link dropped a packet larger than its queue")
	}
	// QueueBytes 0 is 300 ms of Rate, and at least four full packets.
	for rate, want := range map[int64]int64{64_000: 4 * MTU, 1_000_000: 37_500} {
		if got := (Profile{Rate: rate}).queueLimit(); got != want {
			t.Errorf("default queue at %d bit/s is %d bytes, want %d", rate, got, want)
		}
	}
}

func TestModelStall(t *testing.T) {
	m := newModel(Profile{Delay: 10 * time.Millisecond}, 1, 0)
	m.arrive(t0, []byte{1})
	m.stall(t0.Add(5*time.Millisecond), time.Second) // the first is in flight
	for i := 1; i < 50; i++ {
		m.arrive(t0.Add(time.Duration(i)*10*time.Millisecond), []byte{byte(i)})
	}
	end := t0.Add(5*time.Millisecond + time.Second)
	if at, _ := m.next(); !at.Equal(end) {
		t.Fatalf("first packet may leave at +%v, want the stall's end +%v", at.Sub(t0), end.Sub(t0))
	}
	if _, _, ok := m.pop(end.Add(-time.Microsecond)); ok {
		t.Fatal("a packet left during the stall")
	}
	var got []byte
	for {
		data, drop, ok := m.pop(end)
		if !ok {
			break
		}
		if drop != keep {
			t.Fatalf("a stall dropped packet %d", len(got))
		}
		got = append(got, data[0])
	}
	// Everything due by the end leaves at the end, in order: packets 0..49
	// arrived by +490 ms and were due by +500 ms.
	if len(got) != 50 || !slices.IsSorted(got) {
		t.Errorf("at the stall's end %v left, want packets 0..49 in order", got)
	}
}

func TestModelBlackout(t *testing.T) {
	m := newModel(Profile{Delay: 100 * time.Millisecond}, 1, 0)
	m.arrive(t0, []byte{0})                                      // due at +100 ms, in the blackout
	m.arrive(t0.Add(40*time.Millisecond), []byte{1})             // due at +140 ms, after it
	m.blackout(t0.Add(50*time.Millisecond), 80*time.Millisecond) // until +130 ms
	if m.arrive(t0.Add(60*time.Millisecond), []byte{2}) != dropBlackout {
		t.Error("a packet sent into a blackout was kept")
	}
	m.arrive(t0.Add(130*time.Millisecond), []byte{3}) // just after
	var got []byte
	for {
		at, ok := m.next()
		if !ok {
			break
		}
		if data, drop, _ := m.pop(at); drop == keep {
			got = append(got, data[0])
		}
	}
	if !slices.Equal(got, []byte{1, 3}) {
		t.Errorf("packets %v came through, want [1 3]", got)
	}
	if m.stats.DroppedBlackout != 2 {
		t.Errorf("DroppedBlackout = %d, want 2", m.stats.DroppedBlackout)
	}
}
