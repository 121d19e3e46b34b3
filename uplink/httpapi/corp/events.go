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
// versions that make the next Fetch ask.
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
		moved := int64(ct.Group.MemberVersion) != g.MemberVersion
		setGroup(g, ct.Group, &next.Self)
		if moved {
			// The member list changed and is not in the event: fetch it.
			g.MemberVersion, next.Versions.Group = 0, 0
			return next, true, nil
		}

	case wire.EventGroupDelete:
		if ct.Group == nil {
			return refetchAll(m), true, nil
		}
		next.Groups = slices.DeleteFunc(next.Groups, func(g platform.Group) bool { return g.ID == int64(ct.Group.ID) })

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
		setVersion(g, ct.Group)

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
		setVersion(g, ct.Group)
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
			break
		}
		g := group()
		if g == nil {
			return m, false, nil
		}
		g.Members = slices.DeleteFunc(g.Members, func(x platform.Member) bool { return hasMember(ct.Members, x.ID) })
		setVersion(g, ct.Group)

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
			break
		}
		for gi := range next.Groups {
			for i := range next.Groups[gi].Members {
				if x := &next.Groups[gi].Members[i]; x.ID == uid && ct.Member.Name != "" {
					x.Name = ct.Member.Name
				}
			}
		}

	case wire.EventMemberDelete:
		if ct.Member == nil || int64(ct.Member.UserID) == self {
			return refetchAll(m), true, nil
		}
		uid := int64(ct.Member.UserID)
		for gi := range next.Groups {
			next.Groups[gi].Members = slices.DeleteFunc(next.Groups[gi].Members, func(x platform.Member) bool { return x.ID == uid })
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

func setVersion(g *platform.Group, eg *Group) {
	if eg != nil && eg.MemberVersion != 0 {
		g.MemberVersion = int64(eg.MemberVersion)
	}
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
