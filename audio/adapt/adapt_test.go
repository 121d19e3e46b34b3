package adapt

import (
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	cfg := Config{MaxBitrate: 20000}
	type step struct {
		in   Input
		want Setting
	}
	udp := func(loss, jitter float64, queue time.Duration) Input {
		return Input{Path: UDP, Loss: loss, JitterMs: jitter, Queue: queue}
	}
	mqtt := func(queue time.Duration) Input { return Input{Path: MQTT, Queue: queue} }
	clean := udp(0, 10, 0)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a clean link keeps the configured rate, no FEC", []step{
			{clean, Setting{Bitrate: 20000}},
			{clean, Setting{Bitrate: 20000}},
		}},
		{"loss turns FEC on at its measured strength, and off once it is gone", []step{
			{udp(0.03, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 3}},
			{udp(0.05, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 5}},
			{clean, Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 4}}, // decays by a third
			{clean, Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 3}},
			{clean, Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 2}},
			{clean, Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 1}},
			{clean, Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 1}}, // 0.0066: between the thresholds
			{clean, Setting{Bitrate: 20000}},
		}},
		{"one lossy second arms FEC and leaves the bitrate; heavy loss that lasts steps down, severe loss two steps; FEC capped at 30 %", []step{
			{udp(0.12, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 12}}, // average 0.04
			{udp(0.12, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 12}}, // 0.067
			{udp(0.12, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 12}}, // 0.084
			{udp(0.12, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 12}}, // 0.096
			{udp(0.12, 10, 0), Setting{Bitrate: 16000, FEC: true, ExpectedLoss: 12}}, // 0.104
			{udp(0.40, 10, 0), Setting{Bitrate: 12000, FEC: true, ExpectedLoss: 30}}, // 0.20
			{udp(0.40, 10, 0), Setting{Bitrate: 8000, FEC: true, ExpectedLoss: 30}},  // 0.27: two steps
			{udp(0.40, 10, 0), Setting{Bitrate: 8000, FEC: true, ExpectedLoss: 30}},  // the floor
		}},
		{"5 % random loss: a second that loses 3 packets of 25 does not lower the bitrate", []step{
			{udp(0.04, 50, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 4}},
			{udp(0.12, 50, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 12}},
			{udp(0.04, 50, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 10}},
			{udp(0.16, 50, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 16}},
			{udp(0, 50, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 11}},
		}},
		{"voice queueing behind itself steps down before anything is lost", []step{
			{udp(0, 30, 250*time.Millisecond), Setting{Bitrate: 16000}},
			{udp(0, 30, 1200*time.Millisecond), Setting{Bitrate: 10000}},
		}},
		{"jitter that says a queue builds steps down", []step{
			{udp(0, 130, 0), Setting{Bitrate: 16000}},
		}},
		{"up one step only after five clean reports, and a bad one restarts the count", []step{
			{udp(0, 10, 300*time.Millisecond), Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{udp(0, 60, 0), Setting{Bitrate: 16000}}, // neither bad nor clean
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 16000}},
			{clean, Setting{Bitrate: 20000}},
		}},
		{"over MQTT: no FEC whatever was lost before, the backlog steps down", []step{
			{udp(0.05, 10, 0), Setting{Bitrate: 20000, FEC: true, ExpectedLoss: 5}},
			{mqtt(0), Setting{Bitrate: 20000}},
			{mqtt(400 * time.Millisecond), Setting{Bitrate: 16000}},
			{mqtt(2 * time.Second), Setting{Bitrate: 10000}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for i, st := range tc.steps {
				var got Setting
				s, got = cfg.Step(s, st.in)
				if got != st.want {
					t.Fatalf("step %d %+v: %+v, want %+v (state %+v)", i, st.in, got, st.want, s)
				}
			}
		})
	}
}

func TestLadderStaysWithinTheConfiguredRates(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want []int
	}{
		{Config{MaxBitrate: 20000}, []int{20000, 16000, 12000, 10000, 8000}},
		{Config{MaxBitrate: 18000, MinBitrate: 12000}, []int{18000, 16000, 12000}},
		{Config{MaxBitrate: 8000}, []int{8000}},
		{Config{MaxBitrate: 6000}, []int{6000}},
	} {
		got := tc.cfg.withDefaults().ladder()
		if len(got) != len(tc.want) {
			t.Errorf("%+v: ladder %v, want %v", tc.cfg, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%+v: ladder %v, want %v", tc.cfg, got, tc.want)
			}
		}
	}
}

// At 40 kbit/s both paths carry 16 kbit/s Opus at 3 frames a packet with
// room to spare; 24 kbit/s over MQTT does not fit.
func TestWireBitrate(t *testing.T) {
	for _, tc := range []struct {
		bitrate, fpp int
		path         Path
		want         int
	}{
		{16000, 3, UDP, 28400},
		{16000, 3, MQTT, 34133},
		{20000, 3, MQTT, 38133},
		{24000, 3, MQTT, 42133},
		{16000, 1, UDP, 51600},
	} {
		if got := WireBitrate(tc.bitrate, tc.fpp, tc.path); got != tc.want {
			t.Errorf("%d bit/s, %d frames a packet over %s: %d on the wire, want %d", tc.bitrate, tc.fpp, tc.path, got, tc.want)
		}
	}
}

// The loop closed over a 40 kbit/s link with a deep buffer (a cellular
// uplink queues rather than drops): starting at 24 kbit/s, which does not
// fit over MQTT, the adaptation brings the queue down and keeps it down,
// without starving the voice.
func TestSettlesBelowA40kbitLink(t *testing.T) {
	const capacity = 40000
	for _, path := range []Path{MQTT, UDP} {
		t.Run(string(path), func(t *testing.T) {
			cfg := Config{MaxBitrate: 24000}
			var s State
			set := cfg.Setting(s, path)
			queued := 0.0 // bits waiting at the bottleneck
			sum, n := 0, 0
			for sec := range 120 {
				queued = max(0, queued+float64(WireBitrate(set.Bitrate, 3, path)-capacity))
				queue := time.Duration(queued / capacity * float64(time.Second))
				if sec >= 20 {
					if queue > 300*time.Millisecond {
						t.Fatalf("second %d: %v of voice queued at %d bit/s", sec, queue, set.Bitrate)
					}
					sum += set.Bitrate
					n++
				}
				s, set = cfg.Step(s, Input{Path: path, JitterMs: 20, Queue: queue})
			}
			if avg := sum / n; avg < 14000 {
				t.Errorf("the voice was starved: %d bit/s on average", avg)
			} else {
				t.Logf("%s: %d bit/s on average after the first 20 s", path, avg)
			}
		})
	}
}
