package uplink

import (
	"math"
	"testing"
	"time"

	"github.com/pttagent/pttagent/wire"
)

func TestHoldUntil(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	h := Hold{Delay: 15 * time.Second, ParkedDelay: 5 * time.Minute}
	// pt is a point created at now+sec, moved north by m metres.
	pt := func(sec int, m, hdop, kmh float64) wire.Point {
		return wire.Point{Seq: uint64(100 + sec), Created: now.Unix() + int64(sec), Latitude: 48.137154 + m/111195,
			Longitude: 11.576124, HDOP: hdop, Speed: kmh}
	}
	nan := math.NaN()
	cases := []struct {
		name string
		s    holdState
		want time.Time
	}{
		{"nothing waiting", holdState{}, now},
		{"first point ever: no period known", holdState{waiting: []wire.Point{pt(0, 0, 0.8, 40)}}, now},
		{"moving, period 10 s: wait for the next", holdState{waiting: []wire.Point{pt(10, 100, 0.8, 40)},
			prev: pt(0, 0, 0.8, 40), hasPrev: true}, now.Add(15 * time.Second)},
		{"moving, period 60 s: no point in waiting", holdState{waiting: []wire.Point{pt(60, 600, 0.8, 40)},
			prev: pt(0, 0, 0.8, 40), hasPrev: true}, now},
		{"moving, two waiting 10 s apart", holdState{waiting: []wire.Point{pt(10, 100, 0.8, 40), pt(20, 200, 0.8, 40)},
			prev: pt(0, 0, 0.8, 40), hasPrev: true, since: now.Add(-12 * time.Second)}, now.Add(3 * time.Second)},
		{"parked at 60 s: wait the parked delay", holdState{waiting: []wire.Point{pt(60, 3, 0.8, 0.2)},
			prev: pt(0, 0, 0.8, 0.1), hasPrev: true}, now.Add(5 * time.Minute)},
		{"parked, nothing sent yet: the oldest waiting is the reference", holdState{waiting: []wire.Point{pt(0, 0, 0.8, 0), pt(60, 4, 0.8, 0)}},
			now.Add(5 * time.Minute)},
		{"parked with a poor fix: 25 m of wander is within HDOP 3's accuracy", holdState{waiting: []wire.Point{pt(60, 25, 3, 0)},
			prev: pt(0, 0, 3, 0), hasPrev: true}, now.Add(5 * time.Minute)},
		{"walked off: 40 m in a minute", holdState{waiting: []wire.Point{pt(60, 40, 0.8, 2.4)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true}, now},
		{"fast even where positions agree", holdState{waiting: []wire.Point{pt(60, 1, 0.8, 30)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true}, now},
		{"HDOP unknown: not known to be parked", holdState{waiting: []wire.Point{pt(60, 1, nan, 0)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true}, now},
		{"parked, the keep-alive would ping sooner: go before it", holdState{waiting: []wire.Point{pt(60, 3, 0.8, 0)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true, pingDue: now.Add(time.Minute)}, now.Add(time.Minute - keepAliveMargin)},
		{"the radio is awake", holdState{waiting: []wire.Point{pt(60, 3, 0.8, 0)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true, awake: true}, now},
		{"a whole batch waits", holdState{waiting: []wire.Point{pt(60, 3, 0.8, 0)},
			prev: pt(0, 0, 0.8, 0), hasPrev: true, full: true}, now},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.s.now = now
			if c.s.since.IsZero() {
				c.s.since = now
			}
			if got := h.until(c.s); !got.Equal(c.want) {
				t.Errorf("until %v, want %v", got.Sub(now), c.want.Sub(now))
			}
		})
	}
	if got := (Hold{}).until(holdState{now: now, since: now, waiting: []wire.Point{pt(60, 3, 0.8, 0)}, prev: pt(0, 0, 0.8, 0), hasPrev: true}); !got.Equal(now) {
		t.Errorf("the zero Hold held until %v", got.Sub(now))
	}
}
