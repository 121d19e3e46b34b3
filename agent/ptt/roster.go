package ptt

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/pttagent/pttagent/platform"
)

// Who is online in the active group (wapi pttUser/isOnline and
// group/cgt/inThisGroupUids, corp group-member-getall's "online"): asked
// when a spell of listening to a group begins, on a switch — whose prompt
// then says the group's name and how many others are online —, and
// every rosterEvery while the link is up, for `status`. Runs on the loop,
// except the requests.

const (
	// rosterEvery refreshes the list for status while the link is up:
	// the platform's poll period, so the radio wakes no more often.
	rosterEvery = 2 * time.Minute
	// rosterWait is how long a switch's prompt waits for the count;
	// without it the name is said alone.
	rosterWait = 2 * time.Second
	// rosterAfterVoice: a refresh due while voice flows looks again this
	// much later.
	rosterAfterVoice = 5 * time.Second
)

// OnlineStatus is who is online in the active group, in `status`.
type OnlineStatus struct {
	Group int64 `json:"group"`
	// Members are the others online (names, or accounts); Listening
	// those of them with this group active, where the platform says
	// (wapi).
	Members   []string  `json:"members"`
	Listening []string  `json:"listening,omitempty"`
	Checked   time.Time `json:"checked,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// roster is the loop's state of the feature.
type roster struct {
	group   int64  // the group the list is of; 0 none
	gen     uint64 // bumped on a new group: late answers are dropped
	running bool
	every   *time.Timer
	// say is the name to say once the count is known (a switch).
	say      string
	sayTimer *time.Timer
}

// followRoster asks again when the group listened to changes.
func (p *PTT) followRoster() {
	g := int64(0)
	if p.up && p.parts.Roster != nil && p.model.Group(p.active) != nil {
		g = p.active
	}
	if g == p.ro.group {
		return
	}
	p.ro.group = g
	p.ro.gen++
	p.ro.running = false
	if p.ro.every != nil {
		p.ro.every.Stop()
	}
	if g == 0 {
		p.setStatus(func(s *Status) { s.Online = nil })
		return
	}
	p.askRoster()
}

// sayGroup says the group's name on a switch: with the number of others
// online when the platform answers within rosterWait.
func (p *PTT) sayGroup(g platform.Group) {
	name, _ := p.spoken(g.Name)
	p.followRoster()
	if p.ro.group != g.ID {
		p.speak(name) // no roster, or the link is down
		return
	}
	p.ro.say = name
	if p.ro.sayTimer != nil {
		p.ro.sayTimer.Stop()
	}
	gen := p.ro.gen
	p.ro.sayTimer = p.after(rosterWait, func() {
		if gen == p.ro.gen && p.ro.say != "" {
			p.speak(p.ro.say)
			p.ro.say = ""
		}
	})
	if !p.ro.running {
		p.askRoster()
	}
}

// askRoster asks the platform beside the loop.
func (p *PTT) askRoster() {
	g := p.model.Group(p.ro.group)
	if g == nil {
		return
	}
	var ids []int64
	for _, m := range g.Members {
		if m.ID != p.model.Self.ID {
			ids = append(ids, m.ID)
		}
	}
	gen, group, r := p.ro.gen, g.ID, p.parts.Roster
	p.ro.running = true
	p.spawn(func() {
		ctx, cancel := context.WithTimeout(p.ctx, catchUpTimeout)
		defer cancel()
		pr, err := r.Online(ctx, group, ids)
		p.post(func() { p.rosterRead(gen, group, pr, err) })
	})
}

// refreshRoster asks again for status — after the burst when voice
// flows: the answer is a few kilobytes that would queue ahead of the
// voice on a slow link.
func (p *PTT) refreshRoster(gen uint64) {
	switch {
	case gen != p.ro.gen || p.ro.running:
	case p.voiceNow():
		p.ro.every = p.after(rosterAfterVoice, func() { p.refreshRoster(gen) })
	default:
		p.askRoster()
	}
}

// rosterRead shows the answer, says the switch's prompt, and asks again
// in rosterEvery.
func (p *PTT) rosterRead(gen uint64, group int64, pr platform.Presence, err error) {
	if gen != p.ro.gen {
		return
	}
	p.ro.running = false
	p.ro.every = p.after(rosterEvery, func() { p.refreshRoster(gen) })
	st := OnlineStatus{Group: group, Checked: time.Now(), Members: []string{}}
	if err != nil {
		st.Error = err.Error()
		p.log.Debug("who is online: no answer", "group", group, "err", err)
		if p.ro.say != "" {
			p.speak(p.ro.say)
			p.ro.say = ""
		}
	} else {
		others := 0
		for _, id := range pr.Online {
			if id != p.model.Self.ID {
				others++
				st.Members = append(st.Members, p.memberName(group, id))
			}
		}
		for _, id := range pr.InGroup {
			if pr.InGroupKnown && id != p.model.Self.ID {
				st.Listening = append(st.Listening, p.memberName(group, id))
			}
		}
		slices.Sort(st.Members)
		slices.Sort(st.Listening)
		if p.ro.say != "" {
			p.speak(p.say.groupOnline(p.ro.say, others))
			p.ro.say = ""
		}
	}
	p.setStatus(func(s *Status) { s.Online = &st })
}

// memberName is how status names a member of group: its name, else its
// account, cut like the log's.
func (p *PTT) memberName(group, id int64) string {
	if g := p.model.Group(group); g != nil {
		for _, m := range g.Members {
			if m.ID == id {
				if m.Name != "" {
					return logged(m.Name)
				}
				return logged(m.Account)
			}
		}
	}
	return "member " + strconv.FormatInt(id, 10)
}
