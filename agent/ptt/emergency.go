package ptt

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/wire"
)

// The SOS key (an MCPTT emergency group call with an emergency alert). A
// long press (board.LongPress) raises the alert: it goes to the platform
// at once, kept on disk until the platform has it (Parts.Alerts), with
// where the handset is (Parts.Position); the track rate goes up for a
// while (Parts.Boost); the handset takes the floor of its active group —
// the platform grants it over any talker, since it holds the alert — and
// the group hears the emergency tone, then the microphone for the hot-mic
// time, without PTT held. While the alert stands, PTT in that group is an
// emergency call too (also where the group is muted or the member may
// only listen). A second long press cancels. The alert stands across
// reboots until it is cancelled. Everything here runs on the loop.

// EmergencyOptions are the SOS key's settings (config emergency.*).
type EmergencyOptions struct {
	// TrackPeriod is the track period while the emergency lasts, for
	// TrackFor.
	TrackPeriod, TrackFor time.Duration
	// HotMic is how long the microphone stays open after the tone without
	// PTT held; 0: the tone only.
	HotMic time.Duration
}

// Alerts keeps and sends the emergency messages (*alert.Outbox).
type Alerts interface {
	Send(wire.Emergency) error
}

var _ Alerts = (*alert.Outbox)(nil)

// EmergencyStatus is the alert this handset raised, while it stands.
type EmergencyStatus struct {
	ID    string    `json:"id"`
	Group int64     `json:"group,omitempty"`
	Since time.Time `json:"since"`
	// HotMic: the microphone is open for the emergency without PTT.
	HotMic bool `json:"hot_mic,omitempty"`
}

// emergency is the handset's emergency state; the zero value is none.
type emergency struct {
	// Kept across reboots (state_dir/emergency.json).
	ID       string `json:"id"`
	Group    int64  `json:"group"`
	RaisedMs int64  `json:"raised_ms"`

	toneDue bool   // the next burst starts with the emergency tone
	hotMic  bool   // the floor was taken by the alert, not by PTT: it ends with the hot mic
	hotGen  uint64 // the hot-mic timer that counts
}

func (e *emergency) active() bool { return e.ID != "" }

// onSOS is a long press of the SOS key: raise, or cancel.
func (p *PTT) onSOS(ev board.KeyEvent) {
	if !ev.Down {
		return
	}
	if p.parts.Alerts == nil {
		p.log.Error("SOS pressed, but this handset cannot send an emergency alert (no outbox)")
		p.tone(floor.ToneDeny)
		return
	}
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	if p.em.active() {
		p.cancelEmergency(at)
	} else {
		p.raiseEmergency(at)
	}
}

func (p *PTT) raiseEmergency(at time.Time) {
	p.em = emergency{ID: fmt.Sprintf("%d-%04x", at.UnixMilli(), rand.N(0x10000)), Group: p.active, RaisedMs: at.UnixMilli()}
	p.saveEmergency()
	m := wire.Emergency{Type: wire.EmergencyAlert, ID: p.em.ID, Group: p.active, TimeMs: at.UnixMilli(), Fix: p.position(at)}
	// First the alert, then the floor request: the platform grants the
	// emergency call because it has the alert.
	if err := p.parts.Alerts.Send(m); err != nil {
		p.log.Error("emergency alert", "err", err)
	}
	p.log.Warn("EMERGENCY raised", "id", m.ID, "group", m.Group, "fix", m.Fix != nil)
	p.boostTracks()
	if pcm := p.emergencyTone(); pcm != nil {
		p.snd.out.PlayTone(pcm)
	}
	p.emergencyCall(at)
	p.emergencyStatus()
}

func (p *PTT) cancelEmergency(at time.Time) {
	m := wire.Emergency{Type: wire.EmergencyCancel, ID: p.em.ID, Group: p.em.Group, TimeMs: at.UnixMilli(), Fix: p.position(at)}
	if err := p.parts.Alerts.Send(m); err != nil {
		p.log.Error("emergency cancel", "err", err)
	}
	p.log.Warn("emergency cancelled", "id", m.ID, "since", time.UnixMilli(p.em.RaisedMs).Format(time.RFC3339))
	hot := p.em.hotMic
	p.em = emergency{}
	p.saveEmergency()
	if p.parts.Boost != nil {
		p.parts.Boost(0, time.Time{})
	}
	if hot {
		p.step(floor.Input{Kind: floor.KeyRelease})
	}
	p.tone(floor.ToneEnd)
	p.emergencyStatus()
}

// resumeEmergency carries on an alert raised before a restart: the track
// rate for the rest of its time, a long press to cancel it.
func (p *PTT) resumeEmergency() {
	if !p.em.active() {
		return
	}
	p.log.Warn("the emergency raised before the restart stands; a long press of SOS cancels it", "id", p.em.ID,
		"since", time.UnixMilli(p.em.RaisedMs).Format(time.RFC3339))
	p.boostTracks()
	p.emergencyStatus()
}

func (p *PTT) boostTracks() {
	until := time.UnixMilli(p.em.RaisedMs).Add(p.o.Emergency.TrackFor)
	if p.parts.Boost != nil && p.o.Emergency.TrackPeriod > 0 && time.Now().Before(until) {
		p.parts.Boost(p.o.Emergency.TrackPeriod, until)
	}
}

func (p *PTT) position(at time.Time) *wire.EmergencyFix {
	if p.parts.Position == nil {
		return nil
	}
	return p.parts.Position(at)
}

// emergencyCall takes the floor of the active group for the alert: the
// tone, then the hot mic. Whoever talks there is pre-empted by the
// platform. A user already talking just goes on (the group hears them).
func (p *PTT) emergencyCall(at time.Time) {
	if p.active == 0 {
		return
	}
	if cause := p.mayTalk(); cause == "no-group" || cause == wire.CauseMemberState {
		p.log.Warn("no emergency call: this member may not talk at all", "cause", cause)
		return
	}
	switch p.fs.Phase {
	case floor.HasPermission:
		return
	case floor.PendingRequest, floor.Queued:
		// The user holds PTT and waits: ask again, now as an emergency.
		p.step(floor.Input{Kind: floor.Cancel})
		p.em.toneDue = true
		p.step(floor.Input{Kind: floor.KeyPress, Group: p.active})
		return
	}
	p.em.toneDue, p.em.hotMic = true, true
	p.keyAt = at
	p.step(floor.Input{Kind: floor.KeyPress, Group: p.active})
}

// transmitter is the microphone for the burst starting now: after an
// alert, the emergency tone comes first, and the hot mic counts from
// here.
func (p *PTT) transmitter() *audio.Transmitter {
	if !p.em.toneDue {
		return p.snd.tx
	}
	p.em.toneDue = false
	pcm := p.emergencyTone()
	if p.em.hotMic {
		p.em.hotGen++
		gen := p.em.hotGen
		d := time.Duration(len(pcm))*time.Second/audio.SampleRate + p.o.Emergency.HotMic
		p.onLoopAfter(d, func() { p.hotMicOver(gen) })
	}
	if pcm == nil {
		return p.snd.tx
	}
	return &audio.Transmitter{Capture: &toneFirst{Capturer: p.snd.dev.Capture, pcm: pcm}, Packetizer: p.snd.pk}
}

func (p *PTT) hotMicOver(gen uint64) {
	if gen != p.em.hotGen || !p.em.hotMic {
		return
	}
	p.em.hotMic = false
	p.step(floor.Input{Kind: floor.KeyRelease})
	p.emergencyStatus()
}

// hotMicKey decides PTT edges during the hot mic: a press takes over
// (its release will end the burst), a stray release is ignored. It says
// whether the edge is used up.
func (p *PTT) hotMicKey(ev board.KeyEvent) bool {
	if !p.em.hotMic {
		return false
	}
	if ev.Down {
		p.em.hotMic = false
		p.emergencyStatus()
	}
	return true
}

// emergencyFloor follows the floor of an emergency call: when it ends
// without the hot mic (denied, revoked, no answer), the key the alert
// pressed is let go.
func (p *PTT) emergencyFloor(next floor.State) {
	if p.em.hotMic && next.Phase == floor.Idle {
		p.em.hotMic = false
		p.step(floor.Input{Kind: floor.KeyRelease})
		p.emergencyStatus()
	}
}

// emergencyAllows: while this handset's alert stands, it may talk in the
// alert's group where the group is muted or it may only listen — the
// platform grants an emergency call there.
func (p *PTT) emergencyAllows() bool {
	return p.em.active() && p.em.Group != 0 && p.em.Group == p.active
}

// noteEmergencyCall follows whether the active group's speaker talks in
// an emergency (floor granted or taken with the flag).
func (p *PTT) noteEmergencyCall(f wire.Floor) {
	if f.Group != p.active {
		return
	}
	on := f.Emergency && (f.Type == wire.FloorTaken || f.Type == wire.FloorGranted)
	p.setStatus(func(s *Status) {
		if on && !s.EmergencyCall {
			s.EmergencyCalls++
		}
		s.EmergencyCall = on
	})
	if on && f.Type == wire.FloorTaken {
		p.log.Warn("emergency call in the active group", "group", f.Group, "speaker", f.Speaker)
	}
}

// sirenRepeats is how many times an emergency call's siren sounds: 1.2 s,
// long enough to be heard as an alarm over a listener's own noise.
const sirenRepeats = 3

func (p *PTT) emergencyTone() []int16 {
	if p.sosTone == nil {
		pcm, err := audio.RenderTone(audio.ToneEmergency, p.o.Audio.ToneVolume)
		if err != nil {
			p.log.Error("emergency tone", "err", err)
			return nil
		}
		for range sirenRepeats {
			p.sosTone = append(p.sosTone, pcm...)
		}
	}
	return p.sosTone
}

func (p *PTT) emergencyStatus() {
	var st *EmergencyStatus
	if p.em.active() {
		st = &EmergencyStatus{ID: p.em.ID, Group: p.em.Group, Since: time.UnixMilli(p.em.RaisedMs), HotMic: p.em.hotMic}
	}
	p.setStatus(func(s *Status) { s.Emergency = st })
}

// onLoopAfter runs f on the loop after d (not at all once the loop is
// gone).
func (p *PTT) onLoopAfter(d time.Duration, f func()) {
	time.AfterFunc(d, func() { p.post(f) })
}

// toneFirst is a microphone whose first frames are a tone: the group
// hears the emergency tone, then the user. The device still paces every
// frame.
type toneFirst struct {
	audio.Capturer
	pcm []int16
	off int
}

func (c *toneFirst) ReadFrame(pcm []int16) error {
	if err := c.Capturer.ReadFrame(pcm); err != nil {
		return err
	}
	if c.off < len(c.pcm) {
		n := copy(pcm, c.pcm[c.off:])
		clear(pcm[n:])
		c.off += n
	}
	return nil
}
