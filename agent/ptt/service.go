package ptt

import (
	"time"

	"github.com/pttagent/pttagent/agent/floor"
)

// What the platform's state does to the handset beside the floor: a
// withdrawn handset (member deleted, terminal unbound or in repair, user
// disabled, stunned or killed) says why once and neither talks nor
// listens (mayTalk, listen); a handset back in service says so. And the
// seam the features that wait for the platform's HTTP API use to come
// back to the loop: post. Runs on the loop, except post and tryPost.

// post runs f on the loop, from a goroutine or a timer; after the loop
// has returned f is dropped.
func (p *PTT) post(f func()) {
	select {
	case p.later <- f:
	case <-p.done:
	}
}

// tryPost is post for callers that must not wait (the sync's OnEvent):
// false when the loop is that far behind.
func (p *PTT) tryPost(f func()) bool {
	select {
	case p.later <- f:
		return true
	default:
		return false
	}
}

// spawn runs f on a goroutine that Run waits for.
func (p *PTT) spawn(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// after runs f on the loop in d.
func (p *PTT) after(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { p.post(f) })
}

// follow brings everything that depends on the link, the model and the
// active group up to date: the service state, missed messages, who is
// online. The loop calls it after each of them changes.
func (p *PTT) follow() {
	p.followService()
	p.followMissed()
	p.followRoster()
	if p.up && p.active != p.announced && p.parts.AnnounceGroup != nil {
		p.announced = p.active
		p.parts.AnnounceGroup(p.active)
	}
}

// followService says when the platform withdraws the handset, and when
// it gives it back.
func (p *PTT) followService() {
	why := ""
	if p.model != nil {
		why = p.model.Self.Access().Withdrawn
	}
	if why == p.withdrawn {
		return
	}
	was := p.withdrawn
	p.withdrawn = why
	p.setStatus(func(s *Status) { s.Withdrawn = why })
	switch {
	case why != "":
		p.log.Warn("the platform has taken this handset out of service: it neither talks nor listens", "why", why)
		p.announce(p.say.outOfService(p.model.Self))
	case was != "":
		p.log.Info("the platform has put this handset back in service", "was", was)
		p.announce(p.say.backInService)
	}
}

// announce says something the user must know whatever the member's tts:
// spoken when it is on, else the deny tone.
func (p *PTT) announce(text string) {
	if p.ttsOn {
		p.speak(text)
		return
	}
	p.tone(floor.ToneDeny)
}
