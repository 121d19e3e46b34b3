package gps_test

import (
	"errors"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/gps"
)

// OnState tells the owner of the receiver's health each open and loss,
// and an open error once, not at every retry.
func TestSourceOnState(t *testing.T) {
	type state struct {
		connected bool
		err       error
	}
	var mu sync.Mutex
	var states []state
	h := start(t, make(chan gps.Fix, 10), func(s *gps.Source) {
		s.OnState = func(connected bool, err error) {
			mu.Lock()
			states = append(states, state{connected, err})
			mu.Unlock()
		}
	})
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	if err := h.dev.Unplug(); err != nil {
		t.Fatal(err)
	}
	h.waitStats("the loss", func(s gps.Stats) bool { return !s.Connected })
	time.Sleep(1600 * time.Millisecond) // several reopen attempts
	if err := h.dev.Replug(); err != nil {
		t.Fatal(err)
	}
	h.waitStats("the return", func(s gps.Stats) bool { return s.Connected })
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 4 || !states[0].connected || states[1].connected || states[1].err == nil ||
		states[2].connected || !errors.Is(states[2].err, fs.ErrNotExist) || !states[3].connected || states[3].err != nil {
		t.Errorf("states %+v, want opened, lost, cannot open (once), opened", states)
	}
}

// HasFix is the one definition of "the receiver has a fix".
func TestHasFix(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name string
		st   gps.Stats
		want bool
	}{
		{"never a fix", gps.Stats{}, false},
		{"a fresh valid fix", gps.Stats{LastFix: gps.Fix{Valid: true}, LastFixAt: now.Add(-time.Second)}, true},
		{"a fresh invalid cycle", gps.Stats{LastFix: gps.Fix{Valid: false}, LastFixAt: now.Add(-time.Second)}, false},
		{"a valid fix just too old", gps.Stats{LastFix: gps.Fix{Valid: true}, LastFixAt: now.Add(-gps.FixMaxAge)}, false},
	} {
		if got := tc.st.HasFix(now); got != tc.want {
			t.Errorf("%s: HasFix %v, want %v", tc.name, got, tc.want)
		}
	}
}
