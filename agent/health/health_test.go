package health

import (
	"testing"
	"time"
)

func TestHysteresis(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	h := New(map[string]time.Duration{UplinkDown: 10 * time.Second})
	for _, step := range []struct {
		sec     int
		holds   bool
		changed bool
		visible bool
	}{
		{0, true, false, false},
		{5, false, false, false}, // a blip shorter than the delay never shows
		{6, true, false, false},
		{15, true, false, false},
		{16, true, true, true}, // held 10 s: visible
		{20, false, false, true},
		{25, true, false, true}, // came back before clearing: stays
		{26, false, false, true},
		{36, false, true, false}, // gone 10 s: cleared
	} {
		changed := h.Set(UplinkDown, step.holds, "broker unreachable", at(step.sec))
		if changed != step.changed || h.Has(UplinkDown) != step.visible {
			t.Fatalf("t=%d: changed=%v visible=%v, want %v %v", step.sec, changed, h.Has(UplinkDown), step.changed, step.visible)
		}
	}
}

func TestZeroDelayIsImmediate(t *testing.T) {
	h := New(nil)
	if !h.Set(DiskFull, true, "ENOSPC", time.Unix(1, 0)) || !h.Has(DiskFull) {
		t.Fatal("not immediate")
	}
	ws := h.Warnings()
	if len(ws) != 1 || ws[0].Name != DiskFull || ws[0].Detail != "ENOSPC" {
		t.Fatalf("warnings %+v", ws)
	}
}
