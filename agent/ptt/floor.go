package ptt

import (
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/wire"
)

// Floor glue: keys and the arbiter's messages go into the floor machine,
// its actions come out here. Everything in this file runs on the loop.

type timerFire struct {
	timer floor.Timer
	req   uint32
	gen   uint64
}

// step feeds the floor machine and carries out what it says.
func (p *PTT) step(in floor.Input) {
	prev := p.fs
	next, acts := floor.Step(p.fs, in, p.o.Floor)
	p.fs = next
	for _, a := range acts {
		p.do(a)
	}
	if prev.Phase != next.Phase {
		p.log.Debug("floor", "from", prev.Phase, "to", next.Phase, "group", next.Group, "req", next.Req, "cause", next.Cause)
	}
	var grantMs float64
	if next.Phase == floor.HasPermission && prev.Phase != floor.HasPermission && !p.keyAt.IsZero() {
		grantMs = float64(time.Since(p.keyAt).Microseconds()) / 1000
	}
	p.emergencyFloor(next)
	p.setStatus(func(s *Status) {
		if grantMs > 0 {
			s.LastGrantMs = grantMs
		}
		s.Floor, s.Speaker = next.Phase.String(), p.speakers[p.active]
		if next.Cause != prev.Cause && next.Cause != "" {
			s.LastCause = next.Cause
		}
		if next.Phase == floor.Queued {
			s.QueuePosition = next.Position
		} else {
			s.QueuePosition = 0
		}
		s.TalkLimitS = next.TalkLimit.Seconds()
	})
}

func (p *PTT) do(a floor.Action) {
	switch a.Kind {
	case floor.SendRequest:
		p.publishFloor(wire.Floor{Type: wire.FloorRequest, Group: a.Group, Req: a.Req})
		p.setStatus(func(s *Status) { s.Requests++ })
	case floor.SendRelease:
		p.publishFloor(wire.Floor{Type: wire.FloorRelease, Group: a.Group, Req: a.Req})
	case floor.PlayTone:
		p.tone(a.Tone)
		p.setStatus(func(s *Status) {
			switch a.Tone {
			case floor.ToneGrant:
				s.Grants++
			case floor.ToneDeny:
				s.Denies++
			case floor.ToneRevoke:
				s.Revokes++
			case floor.ToneQueued:
				s.Queued++
			}
		})
	case floor.StartCapture:
		p.startTalk(p.fs.Group)
	case floor.StopCapture:
		p.stopTalk()
	case floor.StartTimer:
		p.gen[a.Timer]++
		if t := p.timers[a.Timer]; t != nil {
			t.Stop()
		}
		tf := timerFire{timer: a.Timer, req: a.Req, gen: p.gen[a.Timer]}
		p.timers[a.Timer] = time.AfterFunc(a.After, func() {
			select {
			case p.fired <- tf:
			case <-p.done: // the loop is gone: nobody waits for this timer
			}
		})
	case floor.StopTimer:
		p.gen[a.Timer]++
		if t := p.timers[a.Timer]; t != nil {
			t.Stop()
		}
	}
}

// tone plays one of the floor's tones. The end tone marks the end of
// what was said, so it waits for the received voice still buffered (after
// a stall that can be seconds) instead of sounding over it.
func (p *PTT) tone(t floor.Tone) {
	pcm := p.snd.tones[t]
	switch {
	case pcm == nil:
	case t == floor.ToneEnd:
		p.snd.out.PlayAfterVoice(pcm)
	default:
		p.snd.out.PlayTone(pcm)
	}
}

func (p *PTT) publishFloor(f wire.Floor) {
	f.TimeMs = time.Now().UnixMilli()
	p.parts.Link.Publish(p.topics.FloorUp(), 1, false, f.Encode())
	p.log.Debug("floor sent", "type", f.Type, "group", f.Group, "req", f.Req)
}

// onKey handles one key edge.
func (p *PTT) onKey(ev board.KeyEvent) {
	switch ev.Key {
	case board.PTT:
		if p.hotMicKey(ev) {
			return
		}
		if !ev.Down {
			p.step(floor.Input{Kind: floor.KeyRelease})
			return
		}
		if p.fs.KeyDown {
			return
		}
		// The press is judged by the platform's latest word: a change the
		// sync has just applied may not have reached the loop yet (its
		// notification can come after the key).
		p.catchUpModel()
		if cause := p.mayTalk(); cause != "" {
			// Refused here, without asking: the platform would refuse too,
			// and the user hears at once.
			p.log.Info("PTT refused", "cause", cause, "group", p.active)
			p.tone(floor.ToneDeny)
			p.setStatus(func(s *Status) { s.LocalDenies++; s.LastCause = cause })
			return
		}
		p.keyAt = ev.Time
		p.step(floor.Input{Kind: floor.KeyPress, Group: p.active})
	case board.GroupUp, board.GroupDown:
		if ev.Down {
			// Like a press of PTT, judged by the platform's latest word: a
			// group the sync has just added may not have reached the loop.
			p.catchUpModel()
			p.switchGroup(map[board.KeyName]int{board.GroupUp: 1, board.GroupDown: -1}[ev.Key])
		}
	case board.VolumeUp, board.VolumeDown:
		if ev.Down {
			p.changeVolume(map[board.KeyName]int{board.VolumeUp: 1, board.VolumeDown: -1}[ev.Key])
		}
	case board.SOS:
		p.onSOS(ev)
	}
}

// mayTalk says why this member may not talk in the active group now, or "".
func (p *PTT) mayTalk() string {
	m := p.model
	g := m.Group(p.active)
	switch {
	case g == nil:
		return "no-group"
	case !m.Self.State.CanTalk() || !m.Self.Access().Talk:
		return wire.CauseMemberState
	case p.emergencyAllows():
		// The platform grants this member's emergency call here too.
	case !g.My.Speak && g.Muted:
		return wire.CauseMuted
	case !g.My.Speak || !g.My.Call:
		return wire.CauseNoPermission
	}
	return ""
}

// onFloor runs on the link's delivery goroutines.
func (p *PTT) onFloor(topic string, payload []byte) {
	f, err := wire.DecodeFloor(payload)
	if err != nil {
		p.log.Warn("dropping a malformed floor message", "err", err)
		p.setStatus(func(s *Status) { s.FloorBad++ })
		return
	}
	select {
	case p.floorC <- f:
	default:
		p.setStatus(func(s *Status) { s.FloorBad++ })
	}
}

// onFloorMsg applies one message of the platform's arbiter.
func (p *PTT) onFloorMsg(f wire.Floor) {
	in := floor.Input{Group: f.Group, Req: f.Req, Cause: f.Cause, Position: f.Position, Speaker: f.Speaker,
		TalkTime: time.Duration(f.TalkTime) * time.Second}
	switch f.Type {
	case wire.FloorGranted:
		in.Kind = floor.Granted
		p.speakers[f.Group] = p.o.Account
		if f.Group == p.active {
			p.floorToPlayout(p.o.Account)
		}
	case wire.FloorDeny:
		in.Kind = floor.Denied
	case wire.FloorQueued:
		in.Kind = floor.QueuedMsg
	case wire.FloorRevoke:
		in.Kind = floor.Revoked
		p.log.Info("floor revoked", "group", f.Group, "cause", f.Cause)
	case wire.FloorIdle, wire.FloorTaken:
		// The broker may hand two messages over out of order; the older
		// one of a pair that crossed says nothing new.
		if f.TimeMs != 0 && f.TimeMs < p.lastFloor[f.Group] {
			return
		}
		p.lastFloor[f.Group] = f.TimeMs
		p.noteEmergencyCall(f)
		if f.Type == wire.FloorIdle {
			in.Kind = floor.FloorIdle
			delete(p.speakers, f.Group)
		} else {
			in.Kind = floor.Taken
			p.speakers[f.Group] = f.Speaker
		}
		if f.Group == p.active {
			if f.Type == wire.FloorIdle && f.Burst != 0 && f.End != 0 {
				// The platform says how much of the burst it relayed:
				// what a stall still holds back is waited for.
				p.snd.idleAfter(f.Burst, f.End)
			}
			p.floorToPlayout(p.speakers[f.Group])
		}
	default:
		return
	}
	p.step(in)
}
