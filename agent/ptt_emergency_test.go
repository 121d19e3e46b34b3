package agent_test

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// The SOS key with three real agents: A (the highest priority) talks, C
// (the lowest) holds its SOS key — A is revoked for the emergency, C has
// the floor, B hears the siren and then C, the platform has the alert
// with C's position and a third party's webhook its §3.1 report, and C
// reports its track every 5 s; a second long press cancels. Then the
// alert is raised in a broker outage, the handset restarts before the
// broker is back, and the alert still arrives.
func TestEmergencyKey(t *testing.T) {
	speech := audiotest.Speech(t)
	if err := cards["c"].SetInput(speech, time.Minute); err != nil {
		t.Fatal(err)
	}
	w := startPTTWorld(t,
		handsetSpec{name: "a", priority: 1},
		handsetSpec{name: "b", priority: 5},
		handsetSpec{name: "c", priority: 9, gnss: true})
	a, b, c := w.hs["a"], w.hs["b"], w.hs["c"]
	gid := w.group.ID
	hook := simtest.NewReceiver(t, 1) // fails once: the report is retried
	w.sim.SetEmergencyWebhook(hook.URL, "hook-token")

	ctx, stopGNSS := context.WithCancel(context.Background())
	defer stopGNSS()
	go (&gpssim.Player{Speed: 1, Loop: true, Retime: true}).Play(ctx, c.gnss, gpstest.DriveLog(t))
	wait.For(t, 20*time.Second, "C's fix", func() bool { return c.a.Status().GPS.HasFix })
	if p := c.a.Status().Tracks.PeriodS; p != 600 {
		t.Fatalf("C's track period %v s before the emergency, want 600 (track 3, low)", p)
	}

	once, err := audio.RenderTone(audio.ToneEmergency, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	siren := append(append(append([]int16(nil), once...), once...), once...)

	t.Run("a long press of SOS pre-empts the talker and alerts the platform", func(t *testing.T) {
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		wait.For(t, 5*time.Second, "B told A talks", func() bool { return b.status().Speaker == "a" })
		from := len(b.output())
		revokes := a.status().Revokes
		points := c.a.Status().Tracks.Points

		if _, err := c.benchCmd("sos tap 2500"); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 5*time.Second, "A revoked", func() bool { return a.status().Revokes == revokes+1 })
		if s := a.status(); s.LastCause != wire.CauseEmergency {
			t.Errorf("A's revoke: %q, want %q", s.LastCause, wire.CauseEmergency)
		}
		c.waitFloor("has-permission", 5*time.Second)
		if holder, _ := w.sim.FloorHolder(gid); holder != "c" {
			t.Errorf("the platform's floor holder: %q", holder)
		}
		wait.For(t, 5*time.Second, "B told C talks in an emergency", func() bool {
			s := b.status()
			return s.Speaker == "c" && s.EmergencyCall
		})
		a.release()
		st := c.status()
		if st.Emergency == nil || st.Emergency.Group != gid || st.Emergency.ID == "" {
			t.Fatalf("C's emergency status %+v", st.Emergency)
		}

		// The platform has it, with where C is.
		wait.For(t, 5*time.Second, "the alert on the platform", func() bool { return len(w.sim.Emergencies()) == 1 })
		e := w.sim.Emergencies()[0]
		gps := c.a.Status().GPS
		if e.Account != "c" || e.AlertID != st.Emergency.ID || e.Group != gid || e.GroupName != "Patrol" || e.State != "active" ||
			e.UserID != c.member.ID || e.Position == nil || math.Abs(e.Position.X-gps.Lat) > 0.01 || math.Abs(e.Position.Y-gps.Lon) > 0.01 ||
			e.FixAge > 2 {
			t.Errorf("the platform's alert %+v (C's GPS %.5f, %.5f), position %+v", e, gps.Lat, gps.Lon, e.Position)
		}
		// … and so does the third party, in seed 003 §3.1's shape, after a
		// failed first try.
		wait.For(t, 15*time.Second, "the event report", func() bool { return len(hook.Got()) == 1 })
		hook.Lock()
		simtest.CheckSeedShape(t, hook.Bodies[0])
		r, tok := hook.Reports[0], hook.Tokens[0]
		hook.Unlock()
		if tok != "hook-token" || r.Type != pttsim.EventTypeEmergency || r.Level != "1" || r.From.Account != "c" ||
			r.From.ID != c.member.ID || r.From.Name != "Unit C" || r.To.ID != strconv.FormatInt(gid, 10) || r.To.Name != "Patrol" ||
			r.Code != e.Code || r.Content == "" || r.Address == "" {
			t.Errorf("event report %+v (token %q)", r, tok)
		}

		// C reports its track every 5 s now.
		if p := c.a.Status().Tracks.PeriodS; p != 5 {
			t.Errorf("C's track period %v s during the emergency, want 5", p)
		}

		// The hot mic: the siren and 10 s of C, then the floor goes back.
		c.waitFloor("idle", 20*time.Second)
		if s := c.status(); s.Emergency == nil || s.Emergency.HotMic {
			t.Errorf("after the hot mic: %+v", s.Emergency)
		}
		if n := c.a.Status().Tracks.Points - points; n < 2 {
			t.Errorf("C queued %d track points in the 11 s of its call, want ≥ 2 at 5 s", n)
		}
		b.waitQuiet(10 * time.Second)
		out := b.output()
		at, ncc := find(siren, out, from)
		t.Logf("the siren on B's speaker: NCC %.3f", ncc)
		if ncc < 0.9 {
			t.Fatalf("B did not hear the emergency siren: NCC %.3f", ncc)
		}
		// What C's microphone picked up after the siren (the file
		// plays on under it): the rest of the sentence.
		rest := speech[len(siren):]
		// (Spectra along a time warp, as in TestPushToTalkVoiceAndRecordings:
		// C's call waited behind A's burst, and a backlog is given back.)
		heard := audiotest.Intelligible(rest, out[at+len(siren):], audiotest.HeardThreshold)
		t.Logf("%.0f %% of C's voiced frames after the siren heard by B", 100*heard)
		if heard < 0.9 {
			t.Errorf("B heard %.0f %% of what C said after the siren, want ≥ 90 %%", 100*heard)
		}
		if s := b.status(); s.EmergencyCalls != 1 {
			t.Errorf("B's emergency calls: %d", s.EmergencyCalls)
		}
	})

	t.Run("a second long press cancels", func(t *testing.T) {
		if _, err := c.benchCmd("sos tap 2500"); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 5*time.Second, "C's emergency over", func() bool { return c.status().Emergency == nil })
		wait.For(t, 5*time.Second, "the platform's alert cancelled", func() bool {
			es := w.sim.Emergencies()
			return len(es) == 1 && es[0].State == "cancelled"
		})
		wait.For(t, 15*time.Second, "the cancel's report", func() bool { return len(hook.Got()) == 2 })
		if r := hook.Got()[1]; r.Type != pttsim.EventTypeEmergencyCancel || r.Code != w.sim.Emergencies()[0].Code {
			t.Errorf("cancel report %+v", r)
		}
		if p := c.a.Status().Tracks.PeriodS; p != 600 {
			t.Errorf("C's track period %v s after the cancel, want 600", p)
		}
		wait.For(t, 5*time.Second, "C's outbox empty", func() bool { s := c.a.Status().Alerts; return s != nil && s.Pending == 0 })
	})

	t.Run("raised in an outage, the handset restarted: the alert still arrives", func(t *testing.T) {
		w.broker.Stop()
		wait.For(t, 15*time.Second, "C offline", func() bool { return !c.a.Status().Uplink.Connected })
		if _, err := c.benchCmd("sos tap 2500"); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 5*time.Second, "C's emergency", func() bool { return c.status().Emergency != nil })
		id := c.status().Emergency.ID
		if s := c.a.Status().Alerts; s == nil || s.Pending != 1 {
			t.Fatalf("C's outbox in the outage: %+v", s)
		}

		w.restart(c)
		// The emergency's track period reaches the track reporter through
		// its own loop, after push-to-talk has restored the emergency.
		wait.For(t, 15*time.Second, "C back, still in the emergency, reporting every 5 s", func() bool {
			s := c.status()
			return s.Emergency != nil && s.Emergency.ID == id && s.AudioError == "" && c.a.Status().Tracks.PeriodS == 5
		})
		if s := c.a.Status(); s.Alerts == nil || s.Alerts.Pending != 1 || s.Tracks.PeriodS != 5 {
			t.Fatalf("after the restart: outbox %+v, track period %v s", s.Alerts, s.Tracks.PeriodS)
		}

		w.broker.Start()
		wait.For(t, 30*time.Second, "the alert on the platform", func() bool {
			es := w.sim.Emergencies()
			return len(es) == 2 && es[1].AlertID == id && es[1].State == "active"
		})
		wait.For(t, 15*time.Second, "the platform's acknowledgement", func() bool { return c.a.Status().Alerts.Pending == 0 })
		wait.For(t, 15*time.Second, "the report", func() bool { return len(hook.Got()) == 3 })

		w.ready(c)
		if _, err := c.benchCmd("sos tap 2500"); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 15*time.Second, "cancelled", func() bool { return w.sim.Emergencies()[1].State == "cancelled" })
	})
}

// restart stops h's agent and starts it again from the same config and
// state directory, as systemd would after a crash.
func (w *pttWorld) restart(h *handset) {
	t := w.t
	t.Helper()
	h.stop()
	cfg, _, err := config.Load(filepath.Join(h.dir, "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if h.a, err = agent.Assemble(cfg, pttLogger().With("handset", h.name), "test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.a.Run(ctx) }()
}
