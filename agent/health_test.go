package agent

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/gps"
)

// "Has a fix" is gps.Stats.HasFix's rule, followed as the fixes pass: a
// receiver without sky completes an invalid cycle every second, which is
// no fix; a valid fix older than gps.FixMaxAge is none either.
func TestFixHealthFollowsTheFixes(t *testing.T) {
	valid, invalid := gps.Fix{Valid: true, Mode: gps.Mode3D}, gps.Fix{Mode: gps.ModeNoFix}
	for _, tc := range []struct {
		name      string
		fixes     []gps.Fix // one a second
		then      time.Duration
		unhealthy bool
		visible   bool
	}{
		{"invalid cycles every second", []gps.Fix{invalid, invalid, invalid, invalid, invalid}, 5 * time.Second, true, true},
		{"no cycle ever", nil, 5 * time.Second, true, true},
		{"valid every second", []gps.Fix{valid, valid, valid, valid, valid}, 0, false, false},
		{"valid, then invalid for 3 s", []gps.Fix{valid, invalid, invalid, invalid}, 0, false, false},
		{"valid, then invalid for 6 s", []gps.Fix{valid, invalid, invalid, invalid, invalid, invalid, invalid}, 0, true, false},
		{"valid, then silence for 9 s", []gps.Fix{valid}, 9 * time.Second, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := health.New(nil)
				a := &Agent{p: Parts{Health: h, Tracks: &track.Reporter{}}}
				in, out := make(chan gps.Fix), make(chan gps.Fix, 100)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- a.followFixes(ctx, in, out) }()
				for _, f := range tc.fixes {
					in <- f
					time.Sleep(time.Second)
				}
				time.Sleep(tc.then)
				synctest.Wait()
				s, _ := h.Watch()
				if c := s.Of(health.GPSNoFix); c.Unhealthy != tc.unhealthy || c.Visible != tc.visible {
					t.Errorf("gps-no-fix %+v, want unhealthy %v, visible %v", c, tc.unhealthy, tc.visible)
				}
				if len(out) != len(tc.fixes) {
					t.Errorf("%d fixes reached the reporter, want %d", len(out), len(tc.fixes))
				}
				cancel()
				<-done
			})
		})
	}
}

// The queue's health: a backlog over health.QueueBacklog, a point that
// could not be stored.
func TestQueueHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New(nil)
		a := &Agent{p: Parts{Health: h}}
		a.checkQueue(TrackStatus{Queued: health.QueueBacklog + 1, LastError: "write tracks.db: no space left on device"})
		s, _ := h.Watch()
		if !s.Of(health.QueueBehind).Unhealthy || !s.Of(health.QueueWriteFailed).Visible {
			t.Fatalf("%+v", s)
		}
		time.Sleep(health.QueueBehind.TimeToVisible)
		synctest.Wait()
		if ws := h.Warnings(); len(ws) != 2 {
			t.Errorf("warnings %+v", ws)
		}
		a.checkQueue(TrackStatus{Queued: 3})
		if ws := h.Warnings(); len(ws) != 0 {
			t.Errorf("warnings %+v after the queue drained", ws)
		}
	})
}
