package media

import (
	"testing"
	"time"
)

// The liveness machine, event by event. Each row happens at t (seconds
// from the start) and is followed by a step at the same time, whose
// outcome is checked: the probe it asks for is sent at once.
func TestLinkLiveness(t *testing.T) {
	cfg := linkConfig{KeepAlive: 25 * time.Second, ProbeInterval: time.Second, MediaTimeout: 2 * time.Second, DownAfter: 3}
	type row struct {
		t        float64
		event    string // "", "heard", "sent", "expect", "unexpect", "announce"
		probe    bool   // step asks for a probe
		up       bool   // after the step
		sendable bool
		next     float64 // when step wants to run again (-1: do not check)
	}
	for _, tc := range []struct {
		name string
		rows []row
	}{
		{"a new session probes at once and is up at the echo", []row{
			{0, "", true, false, false, 1},
			{0.1, "heard", false, true, true, 25.0},
		}},
		{"idle: one keep-alive per interval and nothing else", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, 25.0},
			{24.9, "", false, true, true, 25.0},
			{25, "", true, true, true, 26},
			{25.1, "heard", false, true, true, 50},
		}},
		{"talking: packets refresh the binding, the relay's reports keep it up", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, -1},
			{10, "sent", false, true, true, 12},
			{11, "heard", false, true, true, 35},
			{11.5, "sent", false, true, true, 13.5},
			{12, "sent", false, true, true, 13.5},
		}},
		{"talking into a dead path: in doubt after MediaTimeout, down after 3 probes", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, -1},
			{10, "sent", false, true, true, 12},
			{11.9, "sent", false, true, true, 12},
			{12, "", true, true, false, 13},
			{13, "", true, true, false, 14},
			{14, "", true, true, false, 15},
			{15, "", true, false, false, 17},
			{17, "", true, false, false, 21},
			{21, "", true, false, false, 29},
			{29, "", true, false, false, 45},
			{45, "", true, false, false, 70},
			{45.2, "heard", false, true, true, 70},
		}},
		{"a keep-alive not echoed in time puts voice on MQTT before the path is down", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, -1},
			{25, "", true, true, true, 26},
			{25.5, "", false, true, true, 26},
			{26, "", true, true, false, 27},
			{26.3, "heard", false, true, true, 51},
		}},
		{"listening: silence while voice is expected is checked", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, 25},
			{5, "expect", false, true, true, 7},
			{6, "heard", false, true, true, 8},
			{8, "", true, true, true, 9},
			{9, "", true, true, false, 10},
			{10, "", true, true, false, 11},
			{11, "", true, false, false, 13},
		}},
		{"no voice expected: silence is no doubt", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, -1},
			{5, "expect", false, true, true, 7},
			{6, "unexpect", false, true, true, 25},
		}},
		{"a new listen group is announced at once", []row{
			{0, "", true, false, false, -1},
			{0.1, "heard", false, true, true, -1},
			{3, "announce", true, true, true, 4},
			{3.1, "heard", false, true, true, 28},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l link
			t0 := time.Unix(1000, 0)
			at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
			for i, r := range tc.rows {
				now := at(r.t)
				switch r.event {
				case "heard":
					l.heardFrom(now)
				case "sent":
					l.sentPacket(now)
				case "expect":
					l.expect(true, now)
				case "unexpect":
					l.expect(false, now)
				case "announce":
					l.announce = true
				}
				probe, _, next := l.step(cfg, now)
				if probe {
					l.probed(now)
					_, _, next = l.step(cfg, now)
				}
				if probe != r.probe || l.up != r.up || l.sendable(cfg, now) != r.sendable ||
					(r.next >= 0 && !next.Equal(at(r.next))) {
					t.Fatalf("row %d (t=%v %s): probe %v up %v sendable %v next %v; want %v %v %v %v",
						i, r.t, r.event, probe, l.up, l.sendable(cfg, now), next.Sub(t0).Seconds(), r.probe, r.up, r.sendable, r.next)
				}
			}
		})
	}
}
