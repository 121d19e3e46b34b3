package agent_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
)

// The seed features end to end (issue 10 items 4–8, issue 13 item 5):
// real agents on their sound cards, a real mosquitto, pttsim.

func TestSeedFeaturesEndToEnd(t *testing.T) {
	speech := audiotest.Speech(t)
	if err := cards["a"].SetInput(speech, time.Minute); err != nil {
		t.Fatal(err)
	}
	specB := handsetSpec{name: "b", priority: 5, tts: true}
	w := startPTTWorld(t, handsetSpec{name: "a", priority: 5}, specB)
	a, b := w.hs["a"], w.hs["b"]
	t.Cleanup(func() { cards["a"].SetInput(nil, time.Minute) })

	t.Run("a notice (wapi accept/event) is read on the handset it is for", func(t *testing.T) {
		tok, err := w.sim.IssueToken("admin")
		if err != nil {
			t.Fatal(err)
		}
		b.waitQuiet(5 * time.Second)
		from := len(b.output())
		raw := w.sim.Raw(t, "POST", "/wapi/accept/event", http.Header{"Token": {tok}}, map[string]any{
			"from": map[string]any{"id": w.admin.ID, "name": "Dispatch"}, "to": map[string]any{"userIds": []int64{b.member.ID}},
			"title": "Storm warning", "content": "All units return to base"})
		if !strings.Contains(string(raw), `"status":200`) {
			t.Fatalf("accept/event: %s", raw)
		}
		wait.For(t, 5*time.Second, "the notice in B's status", func() bool { return len(b.status().Notices) == 1 })
		b.waitSpoken(from, 10*time.Second)
		want := renderPrompt(t, "Notice from Dispatch. Storm warning. All units return to base")
		if _, ncc := find(want, b.output(), from); ncc < 0.9 {
			t.Errorf("the notice on B's speaker: NCC %.3f, want ≥ 0.9", ncc)
		}
		if n := b.status().Notices[0]; n.Title != "Storm warning" || n.From != "Dispatch" {
			t.Errorf("B's status: %+v", n)
		}
		if len(a.status().Notices) != 0 {
			t.Error("A got a notice that was not for it")
		}
	})

	t.Run("a 120 KB text is read cut to a few seconds, and said to be", func(t *testing.T) {
		b.waitQuiet(5 * time.Second)
		from := len(b.output())
		huge := strings.Repeat("the harbour road is closed ", 120<<10/27)
		w.op.Corp("message-send-group-message", map[string]any{"group_id": w.group.ID, "content": huge}, nil)
		wait.For(t, 5*time.Second, "the message", func() bool { return b.status().TextsCut == 1 })
		b.waitSpoken(from, 60*time.Second)
		played := float64(len(b.output())-from) / audio.SampleRate
		t.Logf("B played %.1f s for a %d KB message", played, len(huge)>>10)
		if played > 30 {
			t.Errorf("B played %.1f s: the text was not cut", played)
		}
		// What was read: the message cut at a word within tts.max_text
		// (240) characters, then the remark.
		cut := huge[:240]
		cut = strings.TrimSpace(cut[:strings.LastIndex(cut, " ")])
		want := renderPrompt(t, "Message from Operator. "+cut+". Message truncated")
		if _, ncc := find(want[len(want)-3*audio.SampleRate:], b.output(), from); ncc < 0.9 {
			t.Errorf("the end of the cut message on B's speaker: NCC %.3f", ncc)
		}
	})

	t.Run("messages sent while B was off are caught up once", func(t *testing.T) {
		b.stop()
		before := len(w.sim.Messages(w.group.ID))
		a.press()
		a.waitFloor("has-permission", 5*time.Second)
		time.Sleep(time.Duration(len(speech))*time.Second/audio.SampleRate + 300*time.Millisecond)
		a.release()
		a.waitFloor("idle", 5*time.Second)
		wait.For(t, 15*time.Second, "A's recording in the history", func() bool { return len(w.sim.Messages(w.group.ID)) == before+1 })
		w.op.Corp("message-send-group-message", map[string]any{"group_id": w.group.ID, "content": "Gate three is open"}, nil)

		w.start(b, specB)
		w.ready(b)
		wait.For(t, 20*time.Second, "the catch-up", func() bool { m := b.status().Missed; return m.Voice == 1 && m.Texts == 1 })
		b.waitSpoken(0, 30*time.Second)
		out := b.output()
		// The burst plays after the catch-up's introduction and its
		// sender's name: look for it there.
		vAt, _ := find(speech[:audio.SampleRate/2], out, 0)
		heard := audiotest.Fraction(audiotest.Heard(speech, out[max(0, vAt-audio.SampleRate/10):], 60*audio.SampleRate/1000, audio.SampleRate/10), 0.8)
		t.Logf("B caught up: %.0f %% of A's missed burst heard, %.1f s into the catch-up", 100*heard, float64(vAt)/audio.SampleRate)
		if heard < 0.9 {
			t.Errorf("A's missed burst on B's speaker: %.0f %% heard, want ≥ 90 %%", 100*heard)
		}
		at, ncc := find(renderPrompt(t, "From Operator, just now. Gate three is open"), out, 0)
		if ncc < 0.9 || at < vAt {
			t.Errorf("the missed text: NCC %.3f at %d, the voice at %d (want after it: oldest first)", ncc, at, vAt)
		}
		// A restart brings nothing again.
		b.stop()
		w.start(b, specB)
		w.ready(b)
		time.Sleep(3 * time.Second)
		if m := b.status().Missed; m.CatchUps == 0 || m.Voice != 0 || m.Texts != 0 {
			t.Errorf("after a second restart: %+v", m)
		}
	})
}

// Who is online: the switch's prompt says the group's name and how many
// others are online; status lists them; the platform learns each device's
// active group from its presence.
func TestWhoIsOnlineEndToEnd(t *testing.T) {
	w := startPTTWorld(t, handsetSpec{name: "a", priority: 5, tts: true}, handsetSpec{name: "b", priority: 5},
		handsetSpec{name: "c", priority: 5})
	a, b := w.hs["a"], w.hs["b"]
	harbour, err := w.sim.CreateGroup(pttsim.GroupSpec{Name: "Harbour", Creator: w.admin.ID,
		Members: []int64{w.admin.ID, a.member.ID, b.member.ID, w.hs["c"].member.ID}})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 5*time.Second, "A in Harbour", func() bool { return a.a.Model().Group(harbour.ID) != nil })
	w.hs["c"].stop() // offline: its will says so
	wait.For(t, 5*time.Second, "C offline", func() bool { on, _ := w.sim.Online("c"); return !on })
	a.waitQuiet(10 * time.Second)
	from := len(a.output())
	a.tap("group_up")
	wait.For(t, 5*time.Second, "A in Harbour", func() bool { return a.status().ActiveGroup == harbour.ID })
	a.waitSpoken(from, 10*time.Second)
	if _, ncc := find(renderPrompt(t, "Harbour, one other online"), a.output(), from); ncc < 0.9 {
		t.Errorf("the switch's prompt: NCC %.3f, want ≥ 0.9", ncc)
	}
	on := a.status().Online
	if on == nil || on.Group != harbour.ID || !slices.Equal(on.Members, []string{"Unit B"}) {
		t.Errorf("A's status: %+v", on)
	}
	wait.For(t, 5*time.Second, "A's active group on the platform", func() bool { _, g := w.sim.Online("a"); return g == harbour.ID })
	if _, g := w.sim.Online("b"); g != w.group.ID {
		t.Errorf("B's active group on the platform: %d", g)
	}
}

// A member deleted on the platform: the handset says why, refuses the PTT
// key, stops its tracks and shows the deprovisioned warning; created
// again, it comes back by itself at the next poll.
func TestOutOfServiceEndToEnd(t *testing.T) {
	w := startPTTWorld(t, handsetSpec{name: "a", priority: 5, tts: true, poll: 2 * time.Second}, handsetSpec{name: "b", priority: 5})
	a := w.hs["a"]
	prompts := a.status().Prompts
	w.op.Corp("member-delete", map[string]any{"org_num": 100130, "member_id": a.member.ID}, nil)
	wait.For(t, 3*time.Second, "A out of service", func() bool { return strings.Contains(a.status().Withdrawn, "deleted") })
	wait.For(t, 5*time.Second, "the prompt", func() bool { return a.status().Prompts > prompts })
	st := a.a.Status()
	if st.Tracks.LocShare {
		t.Error("a deleted member still reports its position")
	}
	if !slices.ContainsFunc(st.Warnings, func(w health.Warning) bool { return w.Name == health.Deprovisioned.Name }) {
		t.Errorf("warnings %+v", st.Warnings)
	}
	denies := a.status().LocalDenies
	a.press()
	time.Sleep(300 * time.Millisecond)
	a.release()
	if s := a.status(); s.LocalDenies != denies+1 || s.Requests != 0 {
		t.Errorf("a press out of service: %d local denies, %d requests", s.LocalDenies-denies, s.Requests)
	}
	again, err := w.sim.AddMember(pttsim.MemberSpec{Num: "a", Name: "Unit A", Password: "pw-a", Type: pttsim.TypeDevice, TTS: 1,
		LocShare: 1, Track: 3})
	if err != nil {
		t.Fatal(err)
	}
	w.sim.AddGroupMembers(w.group.ID, []int64{again.ID})
	wait.For(t, 10*time.Second, "A back in service", func() bool { return a.status().Withdrawn == "" })
	wait.For(t, 5*time.Second, "the warning gone", func() bool {
		return !slices.ContainsFunc(a.a.Status().Warnings, func(w health.Warning) bool { return w.Name == health.Deprovisioned.Name })
	})
	// The track reporter takes the model on its own goroutine: a moment
	// after push-to-talk.
	wait.For(t, 5*time.Second, "tracks back on", func() bool { return a.a.Status().Tracks.LocShare })
	a.press()
	a.waitFloor("has-permission", 5*time.Second)
	a.release()
}

// waitSpoken waits until the handset has played something past sample
// from (a prompt is rendered first: quiet before it starts says nothing),
// then until it is quiet.
func (h *handset) waitSpoken(from int, d time.Duration) {
	h.t.Helper()
	wait.For(h.t, d, h.name+" speaking", func() bool { return len(h.output()) > from+audio.SampleRate/5 })
	h.waitQuiet(d)
}
