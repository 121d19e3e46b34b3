package ptt

import (
	"github.com/pttagent/pttagent/agent/floor"
)

// The active group and what the platform allows in it. Runs on the loop.

// applyModel follows the platform: the active group, whether this member
// may listen and talk, and whether prompts are spoken.
func (p *PTT) applyModel() {
	m := p.model
	p.ttsOn = p.o.TTS
	if m != nil && m.Self.HasSettings {
		p.ttsOn = m.Self.TTS
	}
	var active int64
	if p.parts.Models != nil {
		active = p.parts.Models.Active()
	}
	if active != p.active {
		p.setActive(active)
	}
	p.listen()
	if p.fs.Phase != floor.Idle && p.fs.Phase != floor.PendingRelease {
		if cause := p.mayTalk(); cause != "" {
			p.log.Info("the platform took this member's right to talk; leaving the floor", "cause", cause)
			p.step(floor.Input{Kind: floor.Cancel})
			p.tone(floor.ToneRevoke)
		}
	}
	p.setStatus(func(s *Status) {
		s.TTS = p.ttsOn
		s.ActiveGroup, s.ActiveGroupName = p.active, ""
		if g := m.Group(p.active); g != nil {
			s.ActiveGroupName = g.Name
		}
	})
}

// catchUpModel applies the sync's current model if the loop has not
// seen it yet; the model's notification that follows finds nothing new.
func (p *PTT) catchUpModel() {
	if p.parts.Models == nil {
		return
	}
	if m, _ := p.parts.Models.Watch(); m != p.model {
		p.model = m
		p.applyModel()
		p.follow()
	}
}

// setActive makes gid the group push-to-talk talks and listens to.
func (p *PTT) setActive(gid int64) {
	if p.fs.Phase != floor.Idle {
		p.step(floor.Input{Kind: floor.Cancel})
	}
	p.log.Info("active group", "group", gid, "was", p.active)
	p.active = gid
	p.fs.Group, p.fs.Speaker = gid, p.speakers[gid]
	p.snd.out.ResetVoice()
	p.floorToPlayout(p.speakers[gid])
	if p.parts.Media != nil {
		p.parts.Media.Listen(gid)
	}
	p.subscribeVoice()
	p.listen()
}

// switchGroup moves to the next (dir 1) or previous (-1) group and says
// its name.
func (p *PTT) switchGroup(dir int) {
	m := p.model
	if m == nil || len(m.Groups) == 0 {
		p.tone(floor.ToneDeny)
		return
	}
	i := 0
	for j, g := range m.Groups {
		if g.ID == p.active {
			i = j
		}
	}
	g := m.Groups[(i+dir+len(m.Groups))%len(m.Groups)]
	if g.ID == p.active {
		p.sayGroup(g)
		return
	}
	p.parts.Models.SetActive(g.ID)
	p.prefs.ActiveGroup = g.ID
	p.savePrefs()
	p.setActive(g.ID)
	p.setStatus(func(s *Status) { s.ActiveGroup, s.ActiveGroupName = g.ID, g.Name })
	p.follow()
	p.sayGroup(g)
}
