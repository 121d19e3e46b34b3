// Package arbiter is the platform's floor arbiter, after 3GPP TS 24.380's
// floor control server: per group it decides who may talk, queues or denies
// the others, pre-empts by priority and enforces the talk-time limit. It is
// pure — every method takes the time and returns the messages to send — so
// the simulator hosts it behind MQTT and the tests drive it directly.
//
// Rules, from the platform seeds:
//   - burst_mode 0 (排麦, queue): while the floor is taken, requests are queued
//     by priority, then by arrival; the first in line gets the floor when it
//     is released.
//   - burst_mode 1 (抢麦, grab the mic): while the floor is taken, requests are
//     denied.
//   - burst_mode 2 (抢占, pre-empt): a request of higher priority than the
//     talker's revokes the talker and gets the floor; equal or lower priority
//     is denied.
//   - shutup: only admins may talk.
//   - canSpeak/callPermission N: the member may listen, never talk.
//   - member paused, stunned, killed or disabled: no PTT at all.
//   - the group's talk time (wapi talkTime) is announced with the grant; the
//     handset releases by itself at the limit, and the arbiter revokes a
//     talker still holding the floor Grace later.
//   - emergency (an MCPTT emergency group call; Handle's request carries
//     Emergency when the host holds an alert of the member for the group):
//     granted over any priority and burst mode, the talker revoked with
//     cause emergency; muted groups and listen-only rights do not stop it,
//     the member's state and membership do (a disabled, stunned or killed
//     handset is out of service). An emergency talker is never pre-empted;
//     a second emergency waits first in line, in every burst mode. The
//     grant sets no talk time, and grant and taken say Emergency.
package arbiter

import (
	"sort"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// MemberState follows the wapi user state (0 inactive and 1 active both
// allow PTT; the corp state 0 enabled maps to Active, 1 paused to Paused).
type MemberState int

const (
	Active MemberState = iota
	Paused
	Stunned
	Killed
	Disabled
)

// Burst modes, as the seeds number them.
const (
	BurstQueue   = 0
	BurstDeny    = 1
	BurstPreempt = 2
)

// Member is one member of a group as the arbiter sees it.
type Member struct {
	Account string
	// Priority: a lower number is a higher priority (wapi: 1–10).
	Priority int
	// Admin members may talk in a shutup group.
	Admin bool
	// Listener is true when canSpeak or callPermission is N.
	Listener bool
	State    MemberState
}

// Group is one group's floor rules and members.
type Group struct {
	ID        int64
	BurstMode int
	Shutup    bool
	// TalkTime is the longest one burst may last; 0 = no limit.
	TalkTime time.Duration
	Members  []Member
}

// Message is one floor message to one account.
type Message struct {
	To    string
	Floor wire.Floor
}

// Arbiter holds the floor of every group. It is not safe for concurrent
// use; the simulator serialises calls.
type Arbiter struct {
	// Grace is how long past the talk time a talker may keep the floor
	// before it is revoked (the handset should have released by then).
	Grace time.Duration
	// MaxQueue bounds each group's queue (0 = 16).
	MaxQueue int

	groups map[int64]*group
	order  uint64 // arrival counter: FIFO among equal priorities
}

type group struct {
	Group
	members   map[string]Member
	accounts  []string // sorted, for a deterministic message order
	holder    string
	holderReq uint32
	holderSOS bool      // the holder talks in an emergency
	deadline  time.Time // zero: no limit
	queue     []waiting
}

type waiting struct {
	account   string
	req       uint32
	prio      int
	order     uint64
	emergency bool
}

// New returns an arbiter with no groups.
func New() *Arbiter {
	return &Arbiter{Grace: time.Second, groups: map[int64]*group{}}
}

// Holder returns who talks in group, if anyone.
func (a *Arbiter) Holder(groupID int64) (string, bool) {
	g := a.groups[groupID]
	if g == nil || g.holder == "" {
		return "", false
	}
	return g.holder, true
}

// Groups lists the ids of the groups the arbiter holds, in order.
func (a *Arbiter) Groups() []int64 {
	ids := make([]int64, 0, len(a.groups))
	for id := range a.groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Queue returns the accounts waiting in group, first in line first.
func (a *Arbiter) Queue(groupID int64) []string {
	g := a.groups[groupID]
	if g == nil {
		return nil
	}
	out := make([]string, len(g.queue))
	for i, w := range g.queue {
		out[i] = w.account
	}
	return out
}

// NextDeadline is when Tick next has work to do (ok false: never).
func (a *Arbiter) NextDeadline() (t time.Time, ok bool) {
	for _, g := range a.groups {
		if g.holder != "" && !g.deadline.IsZero() {
			d := g.deadline.Add(a.Grace)
			if !ok || d.Before(t) {
				t, ok = d, true
			}
		}
	}
	return t, ok
}

// SetGroup adds or replaces a group. A talker or a queued member who may no
// longer talk (left the group, paused, muted, made a listener) loses the
// floor or their place at once.
func (a *Arbiter) SetGroup(gr Group, now time.Time) []Message {
	g := a.groups[gr.ID]
	if g == nil {
		g = &group{}
		a.groups[gr.ID] = g
	}
	g.Group = gr
	g.members = make(map[string]Member, len(gr.Members))
	g.accounts = g.accounts[:0]
	for _, m := range gr.Members {
		g.members[m.Account] = m
		g.accounts = append(g.accounts, m.Account)
	}
	sort.Strings(g.accounts)

	var out []Message
	kept := g.queue[:0]
	for _, w := range g.queue {
		if cause := g.refuse(w.account, w.emergency); cause != "" {
			out = append(out, a.msg(w.account, g, wire.FloorDeny, w.req, cause, now))
			continue
		}
		w.prio = g.members[w.account].Priority
		kept = append(kept, w)
	}
	g.queue = kept
	g.sortQueue()
	if g.holder != "" {
		if cause := g.refuse(g.holder, g.holderSOS); cause != "" {
			out = append(out, a.revokeAndPass(g, cause, now)...)
		}
	}
	return append(out, a.positions(g, now)...)
}

// EndEmergency takes account's emergency priority away (its alert was
// cancelled): as a talker it may now be pre-empted, in line it waits like
// the others, and where the group's rules would not let it talk at all
// (muted, listen-only) it loses the floor or its place now.
func (a *Arbiter) EndEmergency(account string, now time.Time) []Message {
	var out []Message
	for _, id := range a.Groups() {
		g := a.groups[id]
		changed := false
		for i := range g.queue {
			if g.queue[i].account == account && g.queue[i].emergency {
				g.queue[i].emergency, changed = false, true
			}
		}
		if g.holder == account && g.holderSOS {
			g.holderSOS, changed = false, true
		}
		if changed {
			out = append(out, a.SetGroup(g.Group, now)...)
		}
	}
	return out
}

// RemoveGroup deletes a group; its talker is revoked and its queue denied.
func (a *Arbiter) RemoveGroup(id int64, now time.Time) []Message {
	g := a.groups[id]
	if g == nil {
		return nil
	}
	var out []Message
	for _, w := range g.queue {
		out = append(out, a.msg(w.account, g, wire.FloorDeny, w.req, wire.CauseNotMember, now))
	}
	if g.holder != "" {
		out = append(out, a.msg(g.holder, g, wire.FloorRevoke, g.holderReq, wire.CauseNotMember, now))
	}
	delete(a.groups, id)
	return out
}

// Handle processes a request or release from account. Other message types
// from a device are ignored (a device cannot grant itself the floor).
func (a *Arbiter) Handle(from string, f wire.Floor, now time.Time) []Message {
	g := a.groups[f.Group]
	switch f.Type {
	case wire.FloorRequest:
		if g == nil {
			return []Message{{To: from, Floor: wire.Floor{Type: wire.FloorDeny, Group: f.Group, Req: f.Req, Cause: wire.CauseNotMember, TimeMs: now.UnixMilli()}}}
		}
		return a.request(g, from, f.Req, f.Emergency, now)
	case wire.FloorRelease:
		if g == nil {
			return nil
		}
		return a.release(g, from, now)
	}
	return nil
}

// Drop releases everything account holds or waits for (the device went
// offline).
func (a *Arbiter) Drop(account string, now time.Time) []Message {
	var out []Message
	ids := make([]int64, 0, len(a.groups))
	for id := range a.groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		g := a.groups[id]
		if g.holder == account || g.queued(account) >= 0 {
			out = append(out, a.release(g, account, now)...)
		}
	}
	return out
}

// Tick revokes talkers past their talk time plus Grace.
func (a *Arbiter) Tick(now time.Time) []Message {
	var out []Message
	ids := make([]int64, 0, len(a.groups))
	for id, g := range a.groups {
		if g.holder != "" && !g.deadline.IsZero() && !now.Before(g.deadline.Add(a.Grace)) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		out = append(out, a.revokeAndPass(a.groups[id], wire.CauseTalkTime, now)...)
	}
	return out
}

// refuse says why account may not talk in g now, or "". In an emergency
// only membership and the member's state count.
func (g *group) refuse(account string, emergency bool) string {
	m, ok := g.members[account]
	switch {
	case !ok:
		return wire.CauseNotMember
	case m.State != Active:
		return wire.CauseMemberState
	case emergency:
	case m.Listener:
		return wire.CauseNoPermission
	case g.Shutup && !m.Admin:
		return wire.CauseMuted
	}
	return ""
}

func (a *Arbiter) request(g *group, from string, req uint32, emergency bool, now time.Time) []Message {
	// A retry of an emergency talker's request stays one.
	emergency = emergency || (g.holder == from && g.holderSOS)
	if cause := g.refuse(from, emergency); cause != "" {
		return []Message{a.msg(from, g, wire.FloorDeny, req, cause, now)}
	}
	switch {
	case g.holder == "":
		return a.grant(g, from, req, emergency, now)
	case g.holder == from:
		// A repeated request (the grant was lost, or a retry): grant again
		// with the time that is left.
		g.holderReq = req
		if emergency {
			g.holderSOS, g.deadline = true, time.Time{}
		}
		m := a.msg(from, g, wire.FloorGranted, req, "", now)
		m.Floor.Speaker, m.Floor.Emergency = from, g.holderSOS
		if !g.deadline.IsZero() {
			m.Floor.TalkTime = max(1, ceilSeconds(g.deadline.Sub(now)))
		}
		return []Message{m}
	case emergency && !g.holderSOS:
		out := []Message{a.msg(g.holder, g, wire.FloorRevoke, g.holderReq, wire.CauseEmergency, now)}
		g.holder = ""
		if i := g.queued(from); i >= 0 {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
		}
		out = append(out, a.grant(g, from, req, true, now)...)
		return append(out, a.positions(g, now)...)
	case emergency:
		// Another emergency talks: first in line, whatever the burst mode,
		// and never refused for a full queue.
		return a.enqueue(g, from, req, true, now)
	}
	prio := g.members[from].Priority
	switch g.BurstMode {
	case BurstPreempt:
		if !g.holderSOS && prio < g.members[g.holder].Priority {
			out := []Message{a.msg(g.holder, g, wire.FloorRevoke, g.holderReq, wire.CausePreempted, now)}
			g.holder = ""
			return append(out, a.grant(g, from, req, false, now)...)
		}
		return []Message{a.msg(from, g, wire.FloorDeny, req, wire.CauseTaken, now)}
	case BurstQueue:
		return a.enqueue(g, from, req, false, now)
	default: // BurstDeny, and any mode the arbiter does not know
		return []Message{a.msg(from, g, wire.FloorDeny, req, wire.CauseTaken, now)}
	}
}

// enqueue puts from in line (or updates its place) and tells everyone in
// line where they stand.
func (a *Arbiter) enqueue(g *group, from string, req uint32, emergency bool, now time.Time) []Message {
	if i := g.queued(from); i >= 0 {
		g.queue[i].req = req
		g.queue[i].emergency = g.queue[i].emergency || emergency
	} else {
		limit := a.MaxQueue
		if limit == 0 {
			limit = 16
		}
		if len(g.queue) >= limit && !emergency {
			return []Message{a.msg(from, g, wire.FloorDeny, req, wire.CauseQueueFull, now)}
		}
		a.order++
		g.queue = append(g.queue, waiting{account: from, req: req, prio: g.members[from].Priority, order: a.order, emergency: emergency})
	}
	g.sortQueue()
	return a.positions(g, now)
}

func (a *Arbiter) release(g *group, from string, now time.Time) []Message {
	if i := g.queued(from); i >= 0 {
		g.queue = append(g.queue[:i], g.queue[i+1:]...)
		return a.positions(g, now)
	}
	if g.holder != from {
		// Not ours to release (already revoked or passed on): tell the
		// device how things stand so it leaves pending-release.
		return []Message{a.status(g, from, now)}
	}
	g.holder, g.holderSOS = "", false
	return a.passOn(g, now)
}

func (a *Arbiter) revokeAndPass(g *group, cause string, now time.Time) []Message {
	out := []Message{a.msg(g.holder, g, wire.FloorRevoke, g.holderReq, cause, now)}
	g.holder, g.holderSOS = "", false
	return append(out, a.passOn(g, now)...)
}

// passOn gives a free floor to the first eligible member in line, or
// announces it idle.
func (a *Arbiter) passOn(g *group, now time.Time) []Message {
	var out []Message
	for len(g.queue) > 0 {
		w := g.queue[0]
		g.queue = g.queue[1:]
		if cause := g.refuse(w.account, w.emergency); cause != "" {
			out = append(out, a.msg(w.account, g, wire.FloorDeny, w.req, cause, now))
			continue
		}
		out = append(out, a.grant(g, w.account, w.req, w.emergency, now)...)
		return append(out, a.positions(g, now)...)
	}
	for _, acct := range g.accounts {
		out = append(out, a.msg(acct, g, wire.FloorIdle, 0, "", now))
	}
	return out
}

func (a *Arbiter) grant(g *group, to string, req uint32, emergency bool, now time.Time) []Message {
	g.holder, g.holderReq, g.holderSOS, g.deadline = to, req, emergency, time.Time{}
	m := a.msg(to, g, wire.FloorGranted, req, "", now)
	m.Floor.Speaker, m.Floor.Emergency = to, emergency
	if g.TalkTime > 0 && !emergency {
		g.deadline = now.Add(g.TalkTime)
		m.Floor.TalkTime = ceilSeconds(g.TalkTime)
	}
	out := []Message{m}
	for _, acct := range g.accounts {
		if acct != to {
			t := a.msg(acct, g, wire.FloorTaken, 0, "", now)
			t.Floor.Speaker, t.Floor.Emergency = to, emergency
			out = append(out, t)
		}
	}
	return out
}

// positions tells everyone in line where they stand.
func (a *Arbiter) positions(g *group, now time.Time) []Message {
	out := make([]Message, 0, len(g.queue))
	for i, w := range g.queue {
		m := a.msg(w.account, g, wire.FloorQueued, w.req, "", now)
		m.Floor.Position = i + 1
		out = append(out, m)
	}
	return out
}

func (a *Arbiter) status(g *group, to string, now time.Time) Message {
	if g.holder == "" {
		return a.msg(to, g, wire.FloorIdle, 0, "", now)
	}
	m := a.msg(to, g, wire.FloorTaken, 0, "", now)
	m.Floor.Speaker, m.Floor.Emergency = g.holder, g.holderSOS
	return m
}

func (a *Arbiter) msg(to string, g *group, typ wire.FloorType, req uint32, cause string, now time.Time) Message {
	return Message{To: to, Floor: wire.Floor{V: 1, Type: typ, Group: g.ID, Req: req, Cause: cause, TimeMs: now.UnixMilli()}}
}

func (g *group) queued(account string) int {
	for i, w := range g.queue {
		if w.account == account {
			return i
		}
	}
	return -1
}

func (g *group) sortQueue() {
	sort.SliceStable(g.queue, func(i, j int) bool {
		if g.queue[i].emergency != g.queue[j].emergency {
			return g.queue[i].emergency
		}
		if g.queue[i].prio != g.queue[j].prio {
			return g.queue[i].prio < g.queue[j].prio
		}
		return g.queue[i].order < g.queue[j].order
	})
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
