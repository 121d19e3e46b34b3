package ptt_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/board/boardtest"
	"github.com/pttagent/pttagent/wire"
)

// The health prompts follow health's conditions with their delays: the
// network's loss only once it lasted (a broker restart is not news) and
// only of a network the user had; the fix acquired, and lost only after
// it was acquired. The test reports as the agent's owners would.
func TestHealthPrompts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		h := r.health
		h.SetUnhealthy(health.UplinkDown, "connecting") // at boot
		h.SetUnhealthy(health.GPSNoFix, "no fix yet")
		r.sleep(time.Minute)
		steps := []struct {
			what string
			do   func()
			want []string // said since the last step
		}{
			{"boot without network or fix", func() {}, nil},
			{"connected", func() { h.SetHealthy(health.UplinkDown) }, nil},
			{"a 3 s outage", func() {
				h.SetUnhealthy(health.UplinkDown, "EOF")
				r.sleep(3 * time.Second)
				h.SetHealthy(health.UplinkDown)
			}, nil},
			{"a long outage", func() {
				h.SetUnhealthy(health.UplinkDown, "EOF")
				r.sleep(health.UplinkDown.TimeToVisible + time.Second)
			}, []string{"Network lost"}},
			{"reconnected", func() { h.SetHealthy(health.UplinkDown) }, []string{"Network restored"}},
			{"a fix", func() { h.SetHealthy(health.GPSNoFix) }, []string{"GPS fix acquired"}},
			{"a short gap", func() {
				h.SetUnhealthy(health.GPSNoFix, "no valid fix for 5s")
				r.sleep(time.Second)
				h.SetHealthy(health.GPSNoFix)
			}, nil},
			{"the fix lost", func() {
				h.SetUnhealthy(health.GPSNoFix, "no valid fix for 5s")
				r.sleep(health.GPSNoFix.TimeToVisible + time.Second)
			}, []string{"GPS fix lost"}},
		}
		for _, s := range steps {
			n := len(r.voice.Said())
			s.do()
			r.settle()
			if got := r.voice.Said()[n:]; !slices.Equal(got, s.want) {
				t.Errorf("%s: said %q, want %q", s.what, got, s.want)
			}
		}
	})
}

// The battery: low at board.low_battery and discharging, said once and
// reported to health; fine again only above low+2 or on the charger.
func TestBatteryLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, func(r *rig, _ *ptt.Options, p *ptt.Parts) {
			r.battery = boardtest.NewBattery(10)
			p.Battery = r.battery
		})
		set := func(percent int, charging bool) {
			r.battery.Set(board.BatteryStatus{Percent: percent, Charging: charging, Status: "Discharging"}, nil)
			r.sleep(30 * time.Second)
		}
		if said := r.voice.Said(); !slices.Equal(said, []string{"Battery low, 10 percent"}) || !r.health.Visible(health.BatteryLow) {
			t.Fatalf("at 10 %%: said %q", said)
		}
		set(9, false)
		set(16, false) // within the band: still low, not said again
		set(8, false)
		if said := r.voice.Said(); len(said) != 1 {
			t.Errorf("said %q, want the prompt once", said)
		}
		set(18, false)
		if r.health.Visible(health.BatteryLow) {
			t.Error("still low at 18 %")
		}
		set(12, false)
		if said := r.voice.Said(); len(said) != 2 || said[1] != "Battery low, 12 percent" {
			t.Errorf("said %q", said)
		}
		if b := r.status().Battery; b == nil || b.Percent != 12 {
			t.Errorf("status battery %+v", b)
		}
	})
}

// A text message for the active group is read out; one for another
// group is only counted; prompts stay quiet when the member's tts is off.
func TestTextMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		msg := func(group int64, text string) wire.Event {
			var m wire.GroupMessage
			m.Group.ID = group
			m.User.Name = "Dispatch"
			m.Message.Content, _ = json.Marshal(text)
			b, _ := json.Marshal(m)
			return wire.Event{MsgID: 1, MsgType: wire.EventGroupMessage, Content: b}
		}
		if r.p.OnEvent(wire.Event{MsgType: wire.EventGroupChange}) {
			t.Error("push-to-talk took a group change event")
		}
		if !r.p.OnEvent(msg(patrol, "Gate three is open")) || !r.p.OnEvent(msg(harbour, "Ferry late")) {
			t.Fatal("push-to-talk did not take a text message")
		}
		r.settle()
		m := testModel()
		m.Self.TTS = false
		r.models.Set(m)
		r.p.OnEvent(msg(patrol, "Not read out"))
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said, []string{"Message from Dispatch. Gate three is open"}) {
			t.Errorf("said %q", said)
		}
		if s := r.status(); s.TextMessages != 3 || s.Prompts != 1 || s.TTS {
			t.Errorf("status %+v", s)
		}
	})
}

// A sound card that cannot be opened is retried every SoundRetry, and
// health says so meanwhile; the handset works once it opens.
func TestSoundCardRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		fails := 2
		r := start(t, func(r *rig, _ *ptt.Options, p *ptt.Parts) {
			open := p.OpenSound
			p.OpenSound = func() (ptt.Sound, error) {
				mu.Lock()
				defer mu.Unlock()
				if fails > 0 {
					fails--
					return ptt.Sound{}, errors.New("no default input device")
				}
				return open()
			}
		})
		ws := r.health.Warnings()
		if len(ws) != 1 || ws[0].Name != "sound-card-absent" || ws[0].Detail != "no default input device" ||
			r.status().AudioError == "" {
			t.Fatalf("warnings %+v, status %+v", ws, r.status())
		}
		r.sleep(2 * ptt.SoundRetry)
		if ws := r.health.Warnings(); len(ws) != 0 || r.status().AudioError != "" {
			t.Fatalf("after the card came: warnings %+v, status %+v", ws, r.status())
		}
		r.press(board.PTT)
		if len(r.floorUp()) != 1 {
			t.Error("the handset does not work once the card is there")
		}
	})
}

// A burst is recorded, uploaded with the Uploader and reported over the
// link; the recording leaves the disk once the broker acknowledged.
func TestRecordingUploadedAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var uploads []string
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) {
			p.Uploader = ptt.UploadFunc(func(_ context.Context, name string, data []byte) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				if len(data) < 1000 || string(data[:4]) != "OggS" {
					return "", errors.New("not an Ogg file")
				}
				uploads = append(uploads, name)
				return "https://platform.example/" + name, nil
			})
		})
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(2 * time.Second)
		r.release(board.PTT)
		r.sleep(5 * time.Second)
		mu.Lock()
		n := len(uploads)
		mu.Unlock()
		reports := r.link.Published(r.topics.Record())
		if n != 1 || len(reports) != 1 || reports[0].QoS != 1 {
			t.Fatalf("%d uploads, reports %+v", n, reports)
		}
		rep, err := wire.DecodeRecordReport(reports[0].Payload)
		if err != nil || rep.Group != patrol || rep.GroupName != "Patrol" || rep.DurationMs < 1800 || rep.DurationMs > 2300 {
			t.Errorf("report %+v (%v)", rep, err)
		}
		if rs := r.status().Recordings; rs == nil || rs.Reported != 1 || rs.Queued != 0 {
			t.Errorf("recordings %+v", rs)
		}
	})
}
