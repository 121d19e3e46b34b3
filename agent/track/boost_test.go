package track

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/uplink/queue"
)

// An emergency's boost: points at its period from the next fix, also
// with sharing off or tracks off, min_distance ignored; the member's
// settings again when it ends (or when it is ended).
func TestBoost(t *testing.T) {
	o := opts()
	o.MinDistance = 50
	b := func(sec int, period time.Duration, until int) func(d *decider) {
		return func(d *decider) {
			d.setBoost(t0.Add(time.Duration(sec)*time.Second), boost{period: period, until: t0.Add(time.Duration(until) * time.Second)})
		}
	}
	type at struct {
		sec   int
		do    func(*decider) // else a fix (the same spot every time)
		point bool
	}
	for _, tc := range []struct {
		name    string
		initial Settings
		steps   []at
	}{
		{"a low rate becomes 5 s, then low again", Settings{LocShare: true, Track: 3}, []at{
			{sec: 0, point: true},
			{sec: 5},
			{sec: 7, do: b(7, 5*time.Second, 30)},
			{sec: 8, point: true}, // at once, though the handset has not moved
			{sec: 10}, {sec: 12, point: true}, {sec: 13}, {sec: 17, point: true}, {sec: 22, point: true}, {sec: 27, point: true},
			{sec: 30, do: func(d *decider) { // the tick notices the end
				if !d.boostOver(t0.Add(30 * time.Second)) {
					t.Error("boost not over at its end")
				}
				d.setBoost(t0.Add(30*time.Second), boost{})
			}},
			{sec: 33}, {sec: 60}, // min_distance is back: the same spot is not sent
			{sec: 700},
		}},
		{"sharing off: reported during the boost only", Settings{LocShare: false, Track: 1}, []at{
			{sec: 0},
			{sec: 1, do: b(1, 10*time.Second, 25)},
			{sec: 2, point: true}, {sec: 12, point: true}, {sec: 22, point: true},
			{sec: 25, do: b(25, 0, 0)},
			{sec: 32}, {sec: 100},
		}},
		{"tracks off (0): reported during the boost", Settings{LocShare: true, Track: 0}, []at{
			{sec: 0},
			{sec: 1, do: b(1, 10*time.Second, 100)},
			{sec: 2, point: true}, {sec: 5}, {sec: 12, point: true},
			{sec: 13, do: b(13, 0, 0)}, // cancelled early
			{sec: 22}, {sec: 100},
		}},
		{"a member's period shorter than the boost's stays", Settings{LocShare: true, Track: 2 /* 3 min */}, []at{
			{sec: 0, point: true},
			{sec: 1, do: b(1, 5*time.Minute, 3600)},
			{sec: 2, point: true}, // the boost starts with a point
			{sec: 60}, {sec: 182, point: true}, {sec: 362, point: true},
		}},
		{"a boost already over is none", Settings{LocShare: true, Track: 3}, []at{
			{sec: 0, point: true},
			{sec: 10, do: b(10, 5*time.Second, 5)},
			{sec: 15}, {sec: 20},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecider(o)
			period, _ := Period(tc.initial.Track, o.Periods)
			d.setSettings(t0, tc.initial.LocShare, period)
			for i, s := range tc.steps {
				if s.do != nil {
					s.do(d)
					continue
				}
				_, ok := d.onFix(t0.Add(time.Duration(s.sec)*time.Second), fix(s.sec, 1, 2, 0, 0))
				if ok != s.point {
					t.Fatalf("step %d (t=%ds): point %v, want %v", i, s.sec, ok, s.point)
				}
			}
		})
	}
}

// Through the reporter: Boost and its end show in Stats, and so does
// the last fix the emergency alert carries.
func TestReporterBoostAndLastFix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 1000)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		r := &Reporter{Queue: q, Options: opts()}
		if _, _, ok := r.LastFix(); ok {
			t.Fatal("a last fix before any")
		}
		fixes := make(chan gps.Fix)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx, Settings{LocShare: true, Track: 3}, fixes); close(done) }()
		fixes <- fix(0, 1, 2, 0, 0)
		bad := fix(1, 7, 7, 0, 0)
		bad.Valid = false
		fixes <- bad
		synctest.Wait()
		if f, _, ok := r.LastFix(); !ok || f.Lat != 1 {
			t.Fatalf("last fix %+v %v: the invalid one must not count", f, ok)
		}
		time.Sleep(7 * time.Second)
		if p := r.Position(time.Now()); p == nil || p.Latitude != 1 || p.Longitude != 2 || p.Age != 7 ||
			p.Created != t0.Unix() || p.Speed == nil || *p.Speed != 0 || p.Altitude == nil || *p.Altitude != 12.5 || p.Mode != 3 || p.Sats != 9 {
			t.Fatalf("position %+v", p)
		}
		r.Boost(5*time.Second, time.Now().Add(time.Minute))
		synctest.Wait()
		if s := r.Stats(); s.Period != 5*time.Second || s.BoostUntil.IsZero() || s.Track != 3 {
			t.Fatalf("boosted: %+v", s)
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if s := r.Stats(); s.Period != 10*time.Minute || !s.BoostUntil.IsZero() {
			t.Fatalf("after the boost: %+v", s)
		}
		cancel()
		<-done
	})
}
