package board

import (
	"testing"
	"time"

	"github.com/warthog618/go-gpiocdev"
)

// The GPIO character device cannot exist here (no gpio-sim module), so
// only the conversion of the library's events is tested; the line request
// itself is the library's, tested upstream against gpio-sim.
func TestGPIOEvent(t *testing.T) {
	wall := time.Date(2025, 11, 21, 8, 0, 0, 0, time.UTC)
	mono := 1000 * time.Second
	lines := map[int]KeyName{17: PTT}
	ev, ok := gpioEvent(gpiocdev.LineEvent{Offset: 17, Timestamp: mono - 3*time.Millisecond, Type: gpiocdev.LineEventRisingEdge}, lines, mono, wall)
	if !ok || ev.Key != PTT || !ev.Down || !ev.Time.Equal(wall.Add(-3*time.Millisecond)) {
		t.Fatalf("rising: %v %v", ev, ok)
	}
	ev, _ = gpioEvent(gpiocdev.LineEvent{Offset: 17, Timestamp: 5 * time.Second, Type: gpiocdev.LineEventFallingEdge}, lines, mono, wall)
	if ev.Down || !ev.Time.Equal(wall) { // an implausible timestamp (another clock): now
		t.Fatalf("falling: %v", ev)
	}
	if _, ok := gpioEvent(gpiocdev.LineEvent{Offset: 3}, lines, mono, wall); ok {
		t.Fatal("unmapped line reported")
	}
	if _, err := (&GPIO{Chip: "gpiochip0", Lines: lines, Bias: "sideways"}).options(); err == nil {
		t.Fatal("bad bias accepted")
	}
	err := (&GPIO{Chip: "/nonexistent/gpiochip7", Lines: lines, Retry: time.Millisecond}).session(t.Context(), nil, nil)
	if err == nil {
		t.Fatal("requesting lines of a missing chip succeeded")
	}
}
