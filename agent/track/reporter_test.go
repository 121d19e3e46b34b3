package track

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

var t0 = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

func fix(sec int, lat, lon, speedKmh, course float64) gps.Fix {
	return gps.Fix{
		Time: t0.Add(time.Duration(sec) * time.Second), Lat: lat, Lon: lon, Alt: 12.5,
		Speed: speedKmh / 3.6, Course: course, HDOP: 0.9, Sats: 9, Mode: gps.Mode3D, Quality: 1, Valid: true,
		Accuracy: 2.7,
		Has: gps.HasTime | gps.HasDate | gps.HasPosition | gps.HasAltitude | gps.HasSpeed | gps.HasCourse |
			gps.HasSats | gps.HasHDOP | gps.HasMode | gps.HasQuality | gps.HasAccuracy | gps.HasGST,
	}
}

// opts are the options of the tests: the periods and corner pegging of
// the shipped defaults (docs/config.md).
func opts() Options {
	return Options{
		Periods: Periods{High: time.Minute, Medium: 3 * time.Minute, Low: 10 * time.Minute},
		Corner:  CornerPeg{MinSpeed: 5, MinTurn: 28, TurnSlope: 410, MinInterval: 15 * time.Second},
	}
}

func TestPeriodFromPlatformValue(t *testing.T) {
	p := opts().Periods
	for _, tc := range []struct {
		track int
		want  time.Duration
		err   bool
	}{
		{0, 0, false}, {1, time.Minute, false}, {2, 3 * time.Minute, false}, {3, 10 * time.Minute, false},
		{4, 0, true}, {-1, 0, true}, {5, 5 * time.Second, false}, {30, 30 * time.Second, false}, {3600, time.Hour, false},
	} {
		got, err := Period(tc.track, p)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("Period(%d) = %v, %v; want %v, err %v", tc.track, got, err, tc.want, tc.err)
		}
	}
}

// step is one input to the decider at a time offset (seconds from t0).
type step struct {
	at     int
	fix    *gps.Fix
	tick   bool
	set    *Settings
	want   bool
	reason wire.Trigger
}

func run(t *testing.T, o Options, initial Settings, steps []step) {
	t.Helper()
	d := newDecider(o)
	period, _ := Period(initial.Track, o.Periods)
	d.setSettings(t0, initial.LocShare, period)
	for i, s := range steps {
		now := t0.Add(time.Duration(s.at) * time.Second)
		var (
			p  wire.Point
			ok bool
		)
		switch {
		case s.set != nil:
			period, _ := Period(s.set.Track, o.Periods)
			d.setSettings(now, s.set.LocShare, period)
			continue
		case s.fix != nil:
			p, ok = d.onFix(now, *s.fix)
		case s.tick:
			p, ok = d.onTick(now)
		}
		if ok != s.want {
			t.Fatalf("step %d (t=%ds): point=%v, want %v", i, s.at, ok, s.want)
		}
		if ok && p.Trigger != s.reason {
			t.Fatalf("step %d (t=%ds): trigger %d, want %d", i, s.at, p.Trigger, s.reason)
		}
	}
}

func f(sec int, lat float64) *gps.Fix { x := fix(sec, lat, 10, 36, 90); return &x }

func TestPeriodicPoints(t *testing.T) {
	on := Settings{LocShare: true, Track: 10}
	run(t, opts(), on, []step{
		{at: 0, fix: f(0, 1), want: true},
		{at: 1, fix: f(1, 1)},
		{at: 9, fix: f(9, 1)},
		{at: 10, fix: f(10, 1), want: true},
		{at: 15, fix: f(15, 1)},
		{at: 20, fix: f(20, 1), want: true},
	})
}

func TestScheduleDoesNotDrift(t *testing.T) {
	// Fixes arrive at x.5 s; points must stay 10 s apart, not 10.5 s.
	d := newDecider(opts())
	d.setSettings(t0, true, 10*time.Second)
	var times []time.Duration
	for ms := 500; ms < 100_000; ms += 1000 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if _, ok := d.onFix(now, fix(ms/1000, 1, 1, 0, 0)); ok {
			times = append(times, now.Sub(t0))
		}
	}
	if len(times) != 10 || times[9] != 90500*time.Millisecond {
		t.Errorf("points at %v", times)
	}
}

// The periodic schedule keeps to the due times whatever the receiver's
// jitter: fixes of a 1 Hz receiver arrive a little before or after the
// second. It once restarted from "now" after a slip and skipped the fix
// just before the next due time: a 1 s period gave 1–2 s spacing, about
// one fix in four lost (issue 13, item 18).
func TestScheduleFollowsDueTimesThroughJitter(t *testing.T) {
	// jitter of the k-th fix of a 1 Hz receiver, in ms, repeating
	jitter := []int{0, 20, -20, 5, -40, 90, -90, 10, 300, -300, 0, -5}
	fixes := func(from, to int) []int {
		var ms []int
		for k := from; k < to; k++ {
			ms = append(ms, k*1000+jitter[k%len(jitter)])
		}
		return ms
	}
	for _, tc := range []struct {
		name   string
		period time.Duration
		fixes  []int // arrival times, ms after t0
		// want is the arrival times (ms) of the fixes that become points.
		want []int
	}{
		{name: "1 s period, 1 Hz receiver: every fix", period: time.Second,
			fixes: fixes(0, 24), want: fixes(0, 24)},
		{name: "2 s period, 1 Hz receiver: every other fix", period: 2 * time.Second,
			fixes: fixes(0, 24), want: []int{0, 1980, 3960, 5910, 8300, 10000, 12000, 13980, 15960, 17910, 20300, 22000}},
		{name: "after a gap: no burst to catch up, the phase kept", period: 2 * time.Second,
			fixes: append(fixes(0, 3), fixes(10, 16)...), want: []int{0, 1980, 10000, 12000, 13980}},
		{name: "fixes at x.5 s, 10 s period: 10 s apart, no drift", period: 10 * time.Second,
			fixes: []int{500, 1500, 9500, 10500, 19500, 20500, 29600, 30400, 40700},
			want:  []int{500, 10500, 20500, 29600, 40700}},
		{name: "a 5 Hz receiver, 1 s period", period: time.Second,
			fixes: []int{0, 200, 400, 600, 800, 990, 1200, 1400, 1600, 1800, 2030, 2200},
			want:  []int{0, 990, 2030}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecider(opts())
			d.setSettings(t0, true, tc.period)
			var got []int
			for _, ms := range tc.fixes {
				if _, ok := d.onFix(t0.Add(time.Duration(ms)*time.Millisecond), fix(ms/1000, 1, 1, 0, 0)); ok {
					got = append(got, ms)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("points at %v ms,\n want %v", got, tc.want)
			}
		})
	}
}

func TestNothingWithoutLocShareOrTrackOff(t *testing.T) {
	o := opts()
	o.Heartbeat = 30 * time.Second
	for _, s := range []Settings{{LocShare: false, Track: 1}, {LocShare: true, Track: 0}} {
		run(t, o, s, []step{
			{at: 0, fix: f(0, 1)},
			{at: 100, fix: f(100, 1)},
			{at: 200, tick: true},
		})
	}
}

func TestInvalidFixesAreNotReported(t *testing.T) {
	bad := fix(0, 1, 1, 0, 0)
	bad.Valid = false
	nopos := fix(0, 1, 1, 0, 0)
	nopos.Has &^= gps.HasPosition
	run(t, opts(), Settings{LocShare: true, Track: 5}, []step{
		{at: 0, fix: &bad},
		{at: 1, fix: &nopos},
		{at: 2, fix: f(2, 1), want: true},
	})
}

func TestSettingsTakeEffectAtOnce(t *testing.T) {
	run(t, opts(), Settings{LocShare: true, Track: 3}, []step{ // low: 10 min
		{at: 0, fix: f(0, 1), want: true},
		{at: 30, fix: f(30, 1)},
		{at: 31, set: &Settings{LocShare: true, Track: 5}}, // operator picks 5 s
		{at: 32, fix: f(32, 1)},
		{at: 36, fix: f(36, 1), want: true},
		{at: 37, set: &Settings{LocShare: false, Track: 5}},
		{at: 50, fix: f(50, 1)},
		{at: 60, set: &Settings{LocShare: true, Track: 5}}, // sharing back on: report right away
		{at: 61, fix: f(61, 1), want: true},
	})
}

func TestMinDistanceSuppressesStationaryPoints(t *testing.T) {
	o := opts()
	o.MinDistance = 50
	deg := 50.0 / 111_195 // ~50 m of latitude
	run(t, o, Settings{LocShare: true, Track: 10}, []step{
		{at: 0, fix: f(0, 1), want: true},
		{at: 10, fix: f(10, 1+deg/10)},              // 5 m: suppressed
		{at: 20, fix: f(20, 1+deg/2)},               // 25 m: suppressed
		{at: 30, fix: f(30, 1+deg*1.2), want: true}, // 60 m: sent
		{at: 35, fix: f(35, 1+deg*10)},              // far, but not due
		{at: 40, fix: f(40, 1+deg*1.3)},             // due, back to 5 m from the last point: suppressed
		{at: 50, fix: f(50, 1+deg*3), want: true},   // 90 m: sent
	})
}

func TestHeartbeatCarriesLastValidFix(t *testing.T) {
	o := opts()
	o.MinDistance = 50
	o.Heartbeat = 60 * time.Second
	d := newDecider(o)
	d.setSettings(t0, true, 10*time.Second)
	if _, ok := d.onFix(t0, fix(0, 1, 2, 0, 0)); !ok {
		t.Fatal("no first point")
	}
	// Parked: fixes keep coming but min_distance suppresses them, then the
	// receiver loses the sky (no more fixes) in a garage.
	for s := 1; s <= 30; s++ {
		if _, ok := d.onFix(t0.Add(time.Duration(s)*time.Second), fix(s, 1, 2, 0, 0)); ok {
			t.Fatalf("point at %d s while parked", s)
		}
	}
	if _, ok := d.onTick(t0.Add(59 * time.Second)); ok {
		t.Fatal("heartbeat before 60 s")
	}
	p, ok := d.onTick(t0.Add(60 * time.Second))
	if !ok || p.Trigger != wire.TriggerHeartbeat || p.Latitude != 1 || p.FixAge != 30 || p.Created != t0.Add(30*time.Second).Unix() {
		t.Fatalf("heartbeat = %+v, %v", p, ok)
	}
	if _, ok := d.onTick(t0.Add(90 * time.Second)); ok {
		t.Fatal("second heartbeat too early")
	}
	if p, ok := d.onTick(t0.Add(120 * time.Second)); !ok || p.FixAge != 90 {
		t.Fatalf("second heartbeat = %+v, %v", p, ok)
	}
}

func TestCornerPegging(t *testing.T) {
	o := opts()
	o.Corner.Enabled = true
	o.Corner.MinInterval = 5 * time.Second
	o.MinDistance = 0
	at := func(sec int, kmh, course float64) *gps.Fix { x := fix(sec, 1, 1, kmh, course); return &x }
	// 60 km/h: threshold 28 + 410/60 ≈ 34.8°. 10 km/h: 28 + 41 = 69°.
	run(t, o, Settings{LocShare: true, Track: 1}, []step{
		{at: 0, fix: at(0, 60, 90), want: true},
		{at: 3, fix: at(3, 60, 180)}, // turned, but within min_interval
		{at: 6, fix: at(6, 60, 120)}, // 30° < 34.8°
		{at: 7, fix: at(7, 60, 130), want: true, reason: wire.TriggerCorner},
		{at: 13, fix: at(13, 10, 180)}, // 50° at 10 km/h < 69°
		{at: 14, fix: at(14, 10, 210), want: true, reason: wire.TriggerCorner},
		{at: 20, fix: at(20, 3, 30)},                                           // below min_speed: heading is noise
		{at: 30, fix: at(30, 60, 350), want: true, reason: wire.TriggerCorner}, // 210 → 350 is 140° across north
	})
}

func TestPointOfConvertsUnits(t *testing.T) {
	fx := fix(0, 22.5, 115.1, 36, 270)
	p := PointOf(&fx, t0.Add(time.Hour), wire.TriggerPeriod, 0)
	if p.Speed != 36 || p.Altitude != 12.5 || p.Bearing != 270 || p.Created != t0.Unix() || p.Mode != 3 || p.Sats != 9 || p.Accuracy != 2.7 {
		t.Errorf("%+v", p)
	}
	fx.Has = gps.HasPosition // a bare 2D fix without date
	fx.Mode = 0
	p = PointOf(&fx, t0.Add(time.Hour), wire.TriggerPeriod, 0)
	if !math.IsNaN(p.Speed) || !math.IsNaN(p.Altitude) || p.Created != t0.Add(time.Hour).Unix() || p.Mode != 2 || p.Accuracy != 0 {
		t.Errorf("%+v", p)
	}
}

func TestDistance(t *testing.T) {
	// One degree of latitude is ~111.2 km.
	if d := Distance(0, 0, 1, 0); math.Abs(d-111_195) > 10 {
		t.Errorf("1° = %.0f m", d)
	}
	if d := Distance(22.5, 115, 22.5, 115); d != 0 {
		t.Errorf("same point = %v", d)
	}
}

// The reporter writes to the real queue and follows Apply.
func TestReporterQueuesPoints(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	o := opts()
	o.Periods.High = 100 * time.Millisecond
	r := &Reporter{Queue: q, Options: o}
	fixes := make(chan gps.Fix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, Settings{LocShare: true, Track: 1}, fixes)
	for i := 0; i < 5; i++ {
		fixes <- fix(i, 1, 2, 10, 90)
		time.Sleep(120 * time.Millisecond)
	}
	if n := q.Len(); n != 5 {
		t.Fatalf("queued %d points, want 5", n)
	}
	r.Apply(Settings{LocShare: false, Track: 1})
	for i := 0; i < 3; i++ {
		fixes <- fix(10+i, 1, 2, 10, 90)
		time.Sleep(120 * time.Millisecond)
	}
	if n := q.Len(); n != 5 {
		t.Fatalf("queued %d points with loc_share off", n)
	}
	if s := r.Stats(); s.Points != 5 || s.LocShare || s.LastSeq != 5 {
		t.Errorf("stats %+v", s)
	}
	pts, _ := q.Peek(0, 10, 1<<20, nil)
	if pts[0].Latitude != 1 || pts[0].Speed != 10 || pts[0].Created != t0.Unix() || pts[0].Accuracy != 2.7 {
		t.Errorf("first point %+v", pts[0])
	}
}
