package corp

import (
	"slices"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

type eventContent struct {
	Group   *Group        `json:"group"`
	Members []GroupMember `json:"members"`
	Member  *Member       `json:"member"`
}

// Apply implements platform.Client for the corp events of docs/protocol.md.
// What an event says completely (a group's settings, a member's settings or
// state, members leaving) is applied at once; what it does not (this
// member joined a group: its member list is not in the event) clears the
// versions that make the next Fetch ask, and asks for it now. An event is
// believed, not trusted: whatever it changed has its versions cleared too
// (the address list for this member, the group list and the group's
// members for a group), so the next poll reads those parts again and
// repairs a wrong or forged event — a few requests per poll however many
// events came, instead of one fetch per event.
func (c *Client) Apply(m *platform.Model, ev wire.Event) (*platform.Model, bool, error) {
	var ct eventContent
	if err := content(ev.Content, &ct); err != nil {
		return refetchAll(m), true, err
	}
	next := m.Clone()
	self := m.Self.ID
	group := func() *platform.Group {
		if ct.Group == nil {
			return nil
		}
		return next.Group(int64(ct.Group.ID))
	}
	switch ev.MsgType {
	case wire.EventGroupChange:
		g := group()
		if g == nil {
			if ct.Group == nil {
				return refetchAll(m), true, nil
			}
			return m, false, nil // not one of ours
		}
		// A group already to be checked (0) is read by the next poll anyway.
		moved := g.MemberVersion != 0 && int64(ct.Group.MemberVersion) != g.MemberVersion
		setGroup(g, ct.Group, &next.Self)
		recheck(next, g)
		if moved {
			// The member list changed and is not in the event: fetch it.
			return next, true, nil
		}

	case wire.EventGroupDelete:
		if ct.Group == nil {
			return refetchAll(m), true, nil
		}
		next.Groups = slices.DeleteFunc(next.Groups, func(g platform.Group) bool { return g.ID == int64(ct.Group.ID) })
		next.Versions.Group = 0

	case wire.EventGroupMemberAdd:
		if ct.Group == nil {
			return refetchAll(m), true, nil
		}
		if hasMember(ct.Members, self) {
			next.Versions.Group = 0 // joined: the member list is not in the event
			return next, true, nil
		}
		g := group()
		if g == nil {
			return m, false, nil
		}
		for _, gm := range ct.Members {
			pm := groupMember(gm)
			if i := slices.IndexFunc(g.Members, func(x platform.Member) bool { return x.ID == pm.ID }); i >= 0 {
				g.Members[i] = pm
			} else {
				g.Members = append(g.Members, pm)
			}
		}
		recheck(next, g)

	case wire.EventGroupMemberChange:
		g := group()
		if g == nil {
			return m, ct.Group == nil, nil
		}
		for _, gm := range ct.Members {
			for i := range g.Members {
				if g.Members[i].ID == int64(gm.UserID) {
					if gm.Prority != nil {
						g.Members[i].Priority = int(*gm.Prority)
					}
					g.Members[i].TTS, g.Members[i].LocShare = gm.TTS != 0, gm.LocShare != 0
					if gm.Name != "" {
						g.Members[i].Name = gm.Name
					}
				}
			}
		}
		recheck(next, g)
		for _, x := range g.Members {
			if x.ID == self {
				g.My.Priority = x.Priority
			}
		}

	case wire.EventGroupMemberDelete:
		if ct.Group == nil {
			return refetchAll(m), true, nil
		}
		gid := int64(ct.Group.ID)
		if hasMember(ct.Members, self) {
			next.Groups = slices.DeleteFunc(next.Groups, func(g platform.Group) bool { return g.ID == gid })
			next.Versions.Group = 0
			break
		}
		g := group()
		if g == nil {
			return m, false, nil
		}
		g.Members = slices.DeleteFunc(g.Members, func(x platform.Member) bool { return hasMember(ct.Members, x.ID) })
		recheck(next, g)

	case wire.EventMemberChange, wire.EventMemberStateChange:
		if ct.Member == nil {
			return refetchAll(m), true, nil
		}
		uid := int64(ct.Member.UserID)
		if uid == self {
			if ev.MsgType == wire.EventMemberStateChange {
				next.Self.State = state(ct.Member.State)
			} else {
				setSelf(&next.Self, ct.Member)
			}
			next.Versions.Address = 0
			break
		}
		for gi := range next.Groups {
			g := &next.Groups[gi]
			for i := range g.Members {
				if x := &g.Members[i]; x.ID == uid {
					if ct.Member.Name != "" {
						x.Name = ct.Member.Name
					}
					recheck(next, g)
				}
			}
		}

	case wire.EventMemberDelete:
		if ct.Member == nil {
			return refetchAll(m), true, nil
		}
		if int64(ct.Member.UserID) == self {
			// Believed at once — a deleted handset stops now, not at the
			// next poll — and checked by the fetch it asks for: one that
			// finds the member again (a forged event) restores it; one the
			// platform refuses keeps it deleted.
			next = refetchAll(m)
			next.Self.State = platform.StateDeleted
			return next, true, nil
		}
		uid := int64(ct.Member.UserID)
		for gi := range next.Groups {
			g := &next.Groups[gi]
			before := len(g.Members)
			g.Members = slices.DeleteFunc(g.Members, func(x platform.Member) bool { return x.ID == uid })
			if len(g.Members) != before {
				recheck(next, g)
			}
		}

	default:
		return refetchAll(m), true, nil
	}
	next.Normalize()
	if err := next.Check(); err != nil {
		return refetchAll(m), true, err
	}
	return next, false, nil
}

func hasMember(ms []GroupMember, id int64) bool {
	for _, x := range ms {
		if int64(x.UserID) == id {
			return true
		}
	}
	return false
}

// recheck marks group g of next, which an event changed, to be read
// again by the next Fetch: the group list (its settings) and its members.
func recheck(next *platform.Model, g *platform.Group) {
	g.MemberVersion, next.Versions.Group = 0, 0
}

// refetchAll returns a copy of m whose versions force a full fetch.
func refetchAll(m *platform.Model) *platform.Model {
	next := m.Clone()
	if next == nil {
		return nil
	}
	next.Versions = platform.Versions{}
	return next
}
