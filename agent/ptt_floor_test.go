package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
	plat "github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// Floor control with three real agents in one group, the platform's rules
// changed by an operator between the scenarios (each change reaches the
// arbiter and the handsets at once): the three burst modes, pre-emption by
// priority, a muted group, a denied permission, a paused member and the
// talk-time limit. Priorities (wapi, lower is higher): b 3, a 5, c 8.
func TestPushToTalkFloor(t *testing.T) {
	sysfs := t.TempDir()
	bat := filepath.Join(sysfs, "class", "power_supply", "BAT0")
	os.MkdirAll(bat, 0o755)
	for f, v := range map[string]string{"type": "Battery", "status": "Discharging", "capacity": "10"} {
		os.WriteFile(filepath.Join(bat, f), []byte(v+"\n"), 0o644)
	}
	for _, led := range []string{"red:tx", "green:rx", "blue:online"} {
		d := filepath.Join(sysfs, "class", "leds", led)
		os.MkdirAll(d, 0o755)
		for f, v := range map[string]string{"brightness": "0", "max_brightness": "255", "trigger": "[none] timer", "delay_on": "0", "delay_off": "0"} {
			os.WriteFile(filepath.Join(d, f), []byte(v+"\n"), 0o644)
		}
	}
	led := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(sysfs, "class", "leds", name, "brightness"))
		return strings.TrimSpace(string(b))
	}
	w := startPTTWorld(t,
		handsetSpec{name: "a", priority: 5},
		handsetSpec{name: "b", priority: 3},
		handsetSpec{name: "c", priority: 8, tts: true, sysfs: sysfs})
	a, b, c := w.hs["a"], w.hs["b"], w.hs["c"]
	gid := w.group.ID
	setGroup := func(f func(*pttsim.Group), applied func(*plat.Group) bool) {
		t.Helper()
		if _, err := w.sim.ChangeGroup(gid, f); err != nil {
			t.Fatal(err)
		}
		for _, h := range []*handset{a, b, c} {
			wait.For(t, 5*time.Second, h.name+" follows the group change", func() bool {
				m := h.a.Model()
				return m != nil && m.Group(gid) != nil && applied(m.Group(gid))
			})
		}
	}
	idle := func() {
		t.Helper()
		for _, h := range []*handset{a, b, c} {
			h.release()
		}
		for _, h := range []*handset{a, b, c} {
			h.waitFloor("idle", 5*time.Second)
		}
		wait.For(t, 5*time.Second, "a free floor", func() bool { _, held := w.sim.FloorHolder(gid); return !held })
	}

	t.Run("low battery announced, LEDs at rest", func(t *testing.T) {
		wait.For(t, 10*time.Second, "the prompt", func() bool { return c.status().Prompts > 0 })
		c.waitQuiet(10 * time.Second)
		if _, ncc := find(renderPrompt(t, "Battery low, 10 percent"), c.output(), 0); ncc < 0.9 {
			t.Errorf("the low battery prompt: NCC %.3f", ncc)
		}
		if bs := c.status().Battery; bs == nil || bs.Percent != 10 || bs.Charging {
			t.Errorf("battery %+v", bs)
		}
		if led("blue:online") != "255" || led("red:tx") != "0" || led("green:rx") != "0" {
			t.Errorf("LEDs online %s, tx %s, rx %s", led("blue:online"), led("red:tx"), led("green:rx"))
		}
	})

	t.Run("burst mode 1: a second talker is denied", func(t *testing.T) {
		setGroup(func(g *pttsim.Group) { g.BurstMode = 1 }, func(g *plat.Group) bool { return g.BurstMode == plat.BurstGrab })
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 3*time.Second, "c told a talks", func() bool { return c.status().Speaker == "a" })
		denies := b.status().Denies
		b.press()
		wait.For(t, 5*time.Second, "b denied", func() bool { return b.status().Denies == denies+1 })
		if s := b.status(); s.LastCause != wire.CauseTaken || s.Floor != "idle" {
			t.Errorf("b: %+v", s)
		}
		if holder, _ := w.sim.FloorHolder(gid); holder != "a" {
			t.Errorf("holder %q", holder)
		}
		idle()
	})

	t.Run("burst mode 0: requests queue by priority", func(t *testing.T) {
		setGroup(func(g *pttsim.Group) { g.BurstMode = 0 }, func(g *plat.Group) bool { return g.BurstMode == plat.BurstQueue })
		n := len(w.sim.FloorEvents())
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		c.press()
		c.waitFloor("queued", 5*time.Second)
		b.press() // later, but of higher priority than c: ahead of it
		b.waitFloor("queued", 5*time.Second)
		wait.For(t, 5*time.Second, "b first in line", func() bool {
			return b.status().QueuePosition == 1 && c.status().QueuePosition == 2
		})
		a.release()
		b.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 5*time.Second, "c next", func() bool { return c.status().QueuePosition == 1 })
		b.release()
		c.waitFloor("has-permission", 5*time.Second)
		c.release()
		idle()
		var grants []string
		for _, e := range w.floorSince(n) {
			if e.Floor.Type == wire.FloorGranted {
				grants = append(grants, e.To)
			}
		}
		if strings.Join(grants, ",") != "a,b,c" {
			t.Errorf("grants in order %v, want a,b,c", grants)
		}
	})

	t.Run("burst mode 2: a higher priority pre-empts", func(t *testing.T) {
		setGroup(func(g *pttsim.Group) { g.BurstMode = 2 }, func(g *plat.Group) bool { return g.BurstMode == plat.BurstPreempt })
		ended, heard := w.sim.FloorStats().BurstsEnded, b.status().VoiceReceived
		c.press()
		c.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 3*time.Second, "c heard", func() bool { return b.status().VoiceReceived > heard })
		if led("red:tx") != "255" {
			t.Errorf("c talks, its transmitting LED is %s", led("red:tx"))
		}
		revokes := c.status().Revokes
		a.press() // 5 beats 8
		a.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 5*time.Second, "c revoked", func() bool { return c.status().Revokes == revokes+1 })
		if s := c.status(); s.LastCause != wire.CausePreempted {
			t.Errorf("c: %+v", s)
		}
		c.waitFloor("idle", 5*time.Second)
		if led("red:tx") != "0" {
			t.Errorf("c revoked, its transmitting LED is %s", led("red:tx"))
		}
		wait.For(t, 3*time.Second, "c's receiving LED while a talks", func() bool { return led("green:rx") == "255" })
		b.press() // 3 beats 5
		b.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 5*time.Second, "a revoked", func() bool { return a.status().LastCause == wire.CausePreempted })
		denies := c.status().Denies
		c.release()
		c.press() // 8 does not beat 3
		wait.For(t, 5*time.Second, "c denied", func() bool { return c.status().Denies == denies+1 })
		if s := c.status(); s.LastCause != wire.CauseTaken {
			t.Errorf("c: %+v", s)
		}
		if holder, _ := w.sim.FloorHolder(gid); holder != "b" {
			t.Errorf("holder %q, want b", holder)
		}
		if got := w.sim.FloorStats().BurstsEnded; got <= ended {
			t.Errorf("the pre-empted bursts were not ended for the listeners (%d)", got)
		}
		idle()
	})

	t.Run("a muted group: refused on the handset", func(t *testing.T) {
		setGroup(func(g *pttsim.Group) { g.Shutup = 1 }, func(g *plat.Group) bool { return g.Muted })
		n := len(w.sim.FloorEvents())
		local := a.status().LocalDenies
		a.press()
		wait.For(t, 5*time.Second, "a refused", func() bool { return a.status().LocalDenies == local+1 })
		if s := a.status(); s.LastCause != wire.CauseMuted || s.Floor != "idle" {
			t.Errorf("a: %+v", s)
		}
		a.release()
		if r := requestsFrom(w.floorSince(n), "a"); r != 0 {
			t.Errorf("a asked the platform %d times", r)
		}
		setGroup(func(g *pttsim.Group) { g.Shutup = 0 }, func(g *plat.Group) bool { return !g.Muted })
	})

	t.Run("a denied permission: the platform refuses", func(t *testing.T) {
		if err := w.sim.ChangeGroupMember(gid, a.member.ID, func(m *pttsim.GroupMember) { m.CanSpeak = "N" }); err != nil {
			t.Fatal(err)
		}
		denies := a.status().Denies
		a.press()
		wait.For(t, 5*time.Second, "a denied", func() bool { return a.status().Denies == denies+1 })
		if s := a.status(); s.LastCause != wire.CauseNoPermission {
			t.Errorf("a: %+v", s)
		}
		a.release()
		w.sim.ChangeGroupMember(gid, a.member.ID, func(m *pttsim.GroupMember) { m.CanSpeak = "Y" })
		idle()
	})

	t.Run("a paused member has no PTT at all", func(t *testing.T) {
		if _, err := w.sim.SetMemberState(a.member.ID, pttsim.StatePaused); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 5*time.Second, "a paused", func() bool { m := a.a.Model(); return m != nil && m.Self.State == plat.StatePaused })
		n := len(w.sim.FloorEvents())
		local := a.status().LocalDenies
		a.press()
		wait.For(t, 5*time.Second, "a refused", func() bool { return a.status().LocalDenies == local+1 })
		a.release()
		if s := a.status(); s.LastCause != wire.CauseMemberState {
			t.Errorf("a: %+v", s)
		}
		if r := requestsFrom(w.floorSince(n), "a"); r != 0 {
			t.Errorf("a asked the platform %d times", r)
		}
		w.sim.SetMemberState(a.member.ID, pttsim.StateActive)
		wait.For(t, 5*time.Second, "a enabled", func() bool { return a.a.Model().Self.State == plat.StateEnabled })
	})

	t.Run("the talk-time limit: warning, then the handset releases", func(t *testing.T) {
		if _, err := w.sim.ChangeGroup(gid, func(g *pttsim.Group) { g.TalkTime = 3 }); err != nil {
			t.Fatal(err)
		}
		a.waitQuiet(5 * time.Second)
		from := len(a.output())
		n := len(w.sim.FloorEvents())
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		granted := time.Now()
		if s := a.status(); s.TalkLimitS != 3 {
			t.Errorf("talk limit %v s, want 3 (the grant's)", s.TalkLimitS)
		}
		wait.For(t, 6*time.Second, "a released by itself", func() bool { return a.status().Floor == "idle" })
		held := time.Since(granted)
		a.release()
		if held < 2500*time.Millisecond || held > 4500*time.Millisecond {
			t.Errorf("released %v after the grant, want ~3 s", held)
		}
		var released, revoked bool
		for _, e := range w.floorSince(n) {
			released = released || (e.From == "a" && e.Floor.Type == wire.FloorRelease)
			revoked = revoked || e.Floor.Type == wire.FloorRevoke
		}
		if !released || revoked {
			t.Errorf("events: released %v, revoked %v", released, revoked)
		}
		a.waitQuiet(5 * time.Second)
		warning, _ := audio.RenderTone(audio.ToneWarning, 0.5)
		at, ncc := find(warning, a.output(), from)
		if ncc < 0.9 {
			t.Errorf("the warning tone: NCC %.3f", ncc)
		}
		t.Logf("warning tone %.2f s into what a played after the press (the grant tone, then silence until the warning)", float64(at-from)/audio.SampleRate)
		w.sim.ChangeGroup(gid, func(g *pttsim.Group) { g.TalkTime = 60 })
	})
}
