package health

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"log/slog"

	"github.com/pttagent/pttagent/internal/logbuf"
)

var testWarnable = &Warnable{Name: "test-down", TimeToVisible: 10 * time.Second, Hint: "check the test"}

// A condition shows only after it held for TimeToVisible; it clears the
// moment its owner says so; a blip shorter than the delay never shows.
func TestTimeToVisible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log logbuf.Buffer
		h := New(slog.New(slog.NewTextHandler(&log, nil)))
		t0 := time.Now()
		at := func(s int) { time.Sleep(t0.Add(time.Duration(s) * time.Second).Sub(time.Now())) }
		for _, step := range []struct {
			sec       int
			report    string // "down", "up" or "" (only time passes)
			visible   bool
			warnings  int
			logsShown bool
		}{
			{0, "down", false, 0, false},
			{5, "up", false, 0, false}, // a blip shorter than the delay never shows
			{6, "down", false, 0, false},
			{15, "", false, 0, false},
			{16, "", true, 1, true}, // held 10 s: visible, without anyone polling
			{20, "down", true, 1, true},
			{21, "up", false, 0, true}, // cleared at once
			{40, "", false, 0, true},
		} {
			at(step.sec)
			switch step.report {
			case "down":
				h.SetUnhealthy(testWarnable, "broker unreachable")
			case "up":
				h.SetHealthy(testWarnable)
			}
			synctest.Wait()
			if got := h.Visible(testWarnable); got != step.visible || len(h.Warnings()) != step.warnings {
				t.Fatalf("t=%ds: visible %v, warnings %v; want %v, %d", step.sec, got, h.Warnings(), step.visible, step.warnings)
			}
			if got := log.Contains(`msg="health warning" warning=test-down`); got != step.logsShown {
				t.Fatalf("t=%ds: logged %v:\n%s", step.sec, got, log.String())
			}
		}
		if !log.Contains(`msg="health warning cleared" warning=test-down after=15s`) {
			t.Errorf("the clearing is not logged with how long it held:\n%s", log.String())
		}
	})
}

func TestWarningsCarryDetailSinceAndHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := New(nil)
		start := time.Now()
		h.Set(QueueWriteFailed, errors.New("ENOSPC"))
		time.Sleep(time.Second)
		h.SetUnhealthy(QueueWriteFailed, "ENOSPC again") // still the same condition: since stays
		ws := h.Warnings()
		if len(ws) != 1 || ws[0].Name != "queue-write-failed" || ws[0].Detail != "ENOSPC again" || !ws[0].Since.Equal(start) ||
			ws[0].Hint != QueueWriteFailed.Hint {
			t.Fatalf("warnings %+v", ws)
		}
		h.Set(QueueWriteFailed, nil)
		if ws := h.Warnings(); ws == nil || len(ws) != 0 {
			t.Fatalf("after clearing: %#v, want an empty list", ws)
		}
	})
}

// A warning another one explains is not listed, but its subscribers see it.
func TestDependsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := New(nil)
		h.SetUnhealthy(GPSAbsent, "no such file")
		h.SetUnhealthy(GPSNoFix, "no fix yet")
		time.Sleep(time.Minute)
		if ws := h.Warnings(); len(ws) != 1 || ws[0].Name != GPSAbsent.Name {
			t.Errorf("warnings %+v, want gps-device-absent alone", ws)
		}
		if s, _ := h.Watch(); !s.Of(GPSNoFix).Visible {
			t.Errorf("the snapshot hides gps-no-fix: %+v", s.Of(GPSNoFix))
		}
		h.SetHealthy(GPSAbsent)
		if ws := h.Warnings(); len(ws) != 1 || ws[0].Name != GPSNoFix.Name {
			t.Errorf("warnings %+v, want gps-no-fix once the receiver is back", ws)
		}
	})
}

// Subscribers are told of every state change (first report, unhealthy,
// healthy, visible) and not of a new detail.
func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := New(nil)
		s, ch := h.Watch()
		if s.Of(UplinkDown).Reported {
			t.Fatal("reported before anyone said anything")
		}
		closed := func() bool {
			select {
			case <-ch:
				s, ch = h.Watch()
				return true
			default:
				return false
			}
		}
		for _, step := range []struct {
			what   string
			do     func()
			notify bool
			want   Condition
		}{
			{"first report, healthy", func() { h.SetHealthy(UplinkDown) }, true, Condition{Reported: true}},
			{"healthy again", func() { h.SetHealthy(UplinkDown) }, false, Condition{Reported: true}},
			{"down", func() { h.SetUnhealthy(UplinkDown, "EOF") }, true, Condition{Reported: true, Unhealthy: true, Detail: "EOF"}},
			{"a new detail", func() { h.SetUnhealthy(UplinkDown, "refused") }, false, Condition{Reported: true, Unhealthy: true, Detail: "refused"}},
			{"visible", func() { time.Sleep(UplinkDown.TimeToVisible); synctest.Wait() }, true,
				Condition{Reported: true, Unhealthy: true, Visible: true, Detail: "refused"}},
			{"up", func() { h.SetHealthy(UplinkDown) }, true, Condition{Reported: true}},
		} {
			step.do()
			if got := closed(); got != step.notify {
				t.Fatalf("%s: notified %v, want %v", step.what, got, step.notify)
			}
			s, ch = h.Watch()
			got := s.Of(UplinkDown)
			got.Since = time.Time{}
			if got != step.want {
				t.Fatalf("%s: %+v, want %+v", step.what, got, step.want)
			}
		}
	})
}

// A nil tracker is a valid "no health" for parts run on their own.
func TestNilTracker(t *testing.T) {
	var h *Tracker
	h.SetUnhealthy(UplinkDown, "x")
	h.SetHealthy(UplinkDown)
	h.Set(UplinkDown, errors.New("x"))
	if s, ch := h.Watch(); len(s) != 0 || ch != nil || h.Visible(UplinkDown) || len(h.Warnings()) != 0 {
		t.Fatal("a nil tracker reports something")
	}
}

// Names are an interface: unique, and what docs/status.md lists.
func TestWarnableNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range []*Warnable{GPSAbsent, GPSNoFix, UplinkDown, QueueBehind, QueueWriteFailed, PlatformSyncFailing,
		SoundAbsent, SoundFailing, BatteryLow, TokenRefused, QueueCorrupt, Deprovisioned} {
		if w.Name == "" || seen[w.Name] || w.Hint == "" {
			t.Errorf("warnable %+v: empty, duplicate or without a hint", w)
		}
		seen[w.Name] = true
	}
}
