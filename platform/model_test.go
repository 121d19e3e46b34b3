package platform_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/platform"
)

func TestDiffSaysWhatChanged(t *testing.T) {
	old := &platform.Model{Self: platform.Self{ID: 7, State: platform.StateEnabled, HasSettings: true, LocShare: true, Track: 1},
		Groups: []platform.Group{{ID: 1, Name: "Patrol", Members: []platform.Member{{ID: 7}, {ID: 8, Name: "B"}}}, {ID: 2, Name: "Gone"}}}
	new := old.Clone()
	new.Self.LocShare, new.Self.Track, new.Self.State = false, 3, platform.StatePaused
	new.Groups = []platform.Group{{ID: 1, Name: "Patrol", Muted: true, BurstMode: platform.BurstPreempt, TalkLimit: time.Minute,
		Members: []platform.Member{{ID: 7}, {ID: 9, Name: "C"}}}, {ID: 3, Name: "New"}}
	got := strings.Join(platform.Diff(old, new), "\n")
	for _, want := range []string{"state enabled→paused", "loc_share 1→0", "track 1→3", `joined group "New" (3, 0 members)`,
		`left group "Gone" (2)`, `group "Patrol" (1): muted false→true`, `burst_mode queue→preempt`, `talk limit 0s→1m0s`,
		`member "C" (9) joined`, `member "B" (8) left`} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if d := platform.Diff(old, old.Clone()); len(d) != 0 {
		t.Errorf("no change, diff %q", d)
	}
	// The first model: every setting is new.
	if got := strings.Join(platform.Diff(nil, old), "\n"); !strings.Contains(got, "loc_share ?→1") || !strings.Contains(got, `joined group "Patrol"`) {
		t.Errorf("first diff:\n%s", got)
	}
}

func TestCloneIsDeep(t *testing.T) {
	m := &platform.Model{Self: platform.Self{ID: 1}, Groups: []platform.Group{{ID: 1, Members: []platform.Member{{ID: 1}}}}}
	c := m.Clone()
	c.Groups[0].Members[0].Name = "x"
	c.Groups[0].Name = "y"
	if m.Groups[0].Members[0].Name != "" || m.Groups[0].Name != "" {
		t.Error("Clone shares memory")
	}
}

func TestDefaultGroupAndStates(t *testing.T) {
	m := &platform.Model{Groups: []platform.Group{{ID: 5, Priority: 0}, {ID: 9, Priority: 3}, {ID: 4, Priority: 3}}}
	if g := m.DefaultGroup(); g != 4 {
		t.Errorf("default group %d, want 4 (priority 3, lowest id)", g)
	}
	for s, talk := range map[platform.State]bool{platform.StateEnabled: true, platform.StatePaused: false, platform.StateDisabled: false,
		platform.StateStunned: false, platform.StateKilled: false, platform.StateInactive: false, platform.StateUnknown: false} {
		if s.CanTalk() != talk {
			t.Errorf("%s CanTalk %v", s, s.CanTalk())
		}
	}
}

// Check refuses what no platform answer (or intact platform.json) holds.
func TestCheckRefusesImpossibleModels(t *testing.T) {
	ok := platform.Model{Self: platform.Self{ID: 1}, Groups: []platform.Group{{ID: 2, TalkLimit: time.Minute}}}
	if err := ok.Check(); err != nil {
		t.Fatalf("a good model refused: %v", err)
	}
	for name, m := range map[string]platform.Model{
		"no member id":        {},
		"group id 0":          {Self: platform.Self{ID: 1}, Groups: []platform.Group{{ID: 0}}},
		"repeated group":      {Self: platform.Self{ID: 1}, Groups: []platform.Group{{ID: 2}, {ID: 2}}},
		"negative track":      {Self: platform.Self{ID: 1, Track: -1}},
		"negative talk limit": {Self: platform.Self{ID: 1}, Groups: []platform.Group{{ID: 2, TalkLimit: -time.Second}}},
	} {
		if err := m.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
