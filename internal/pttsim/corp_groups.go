package pttsim

import "net/http"

// The corp groups and their members.

func corpGroup(g *Group) map[string]any {
	return map[string]any{"id": g.ID, "name": g.Name, "avatar": g.Avatar, "creator": g.Creator, "type": g.Type,
		"user_count": len(g.Members), "member_version": g.MemberVersion, "burst_mode": g.BurstMode, "shutup": g.Shutup,
		"created": g.Created}
}

// corpGroupMembers lists group members as group-member-getall does, with
// the in-group prority (sic), tts and loc_share of group-member-delete.
func corpGroupMembers(w *world, g *Group, uids []int64) []map[string]any {
	out := []map[string]any{}
	for _, uid := range uids {
		m := w.Members[uid]
		if m == nil {
			continue
		}
		e := corpMember(w, m)
		if gm := g.member(uid); gm != nil {
			e["prority"], e["tts"], e["loc_share"] = gm.Priority, gm.TTS, gm.LocShare
		}
		out = append(out, e)
	}
	return out
}

// corpGroupCreate makes the caller the group's creator (an admin of its
// floor).
func (s *Sim) corpGroupCreate(w http.ResponseWriter, c *corpCall) {
	spec := GroupSpec{Creator: c.uid}
	setStr(&spec.Name, c.q.Name)
	setNum(&spec.BurstMode, c.q.BurstMode)
	g, err := s.CreateGroup(spec)
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, map[string]any{"id": g.ID, "name": g.Name, "avatar": g.Avatar, "user_count": 0,
		"member_version": g.MemberVersion, "burst_mode": g.BurstMode, "shutup": g.Shutup, "created": g.Created})
}

func (s *Sim) corpGroupChange(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	g, err := s.ChangeGroup(int64(q.GroupID), func(g *Group) {
		setStr(&g.Name, q.Name)
		setStr(&g.Avatar, q.Avatar)
		setNum(&g.BurstMode, q.BurstMode)
		setNum(&g.Shutup, q.Shutup)
	})
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, map[string]any{"group": corpGroup(&g)})
}

func (s *Sim) corpGroupDelete(w http.ResponseWriter, c *corpCall) {
	corpReply(w, nil, s.DeleteGroup(int64(c.q.GroupID)))
}

func (s *Sim) corpGroupGetAll(w http.ResponseWriter, _ *corpCall) {
	corpOK(w, map[string]any{"groups": locked(s, func(wd *world) []map[string]any {
		gs := []map[string]any{}
		for _, g := range wd.sortedGroups() {
			gs = append(gs, corpGroup(g))
		}
		return gs
	})})
}

// corpGroupMemberAdd answers the members it added (not those already in).
func (s *Sim) corpGroupMemberAdd(w http.ResponseWriter, c *corpCall) {
	added, err := s.AddGroupMembers(int64(c.q.GroupID), c.q.memberIDs())
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, map[string]any{"members": locked(s, func(wd *world) []map[string]any {
		out := []map[string]any{}
		for _, uid := range added {
			// A member deleted since it was added is not listed.
			if m := wd.Members[uid]; m != nil {
				out = append(out, map[string]any{"user_id": m.ID, "user_num": m.Num, "sex": m.Sex, "name": m.Name, "avatar": m.Avatar})
			}
		}
		return out
	})})
}

func (s *Sim) corpGroupMemberChange(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	err := s.ChangeGroupMember(int64(q.GroupID), int64(q.MemberID), func(gm *GroupMember) {
		setNum(&gm.Priority, q.Prority)
		setNum(&gm.TTS, q.TTS)
		setNum(&gm.LocShare, q.LocShare)
	})
	s.corpGroupMembersReply(w, int64(q.GroupID), err)
}

func (s *Sim) corpGroupMemberDelete(w http.ResponseWriter, c *corpCall) {
	err := s.DeleteGroupMembers(int64(c.q.GroupID), c.q.memberIDs())
	s.corpGroupMembersReply(w, int64(c.q.GroupID), err)
}

func (s *Sim) corpGroupMemberGetAll(w http.ResponseWriter, c *corpCall) {
	s.corpGroupMemberGetAllOnline(w, c) // presence.go: with each member's "online"
}

// corpGroupMembersReply answers err, or the group's members as they are
// now.
func (s *Sim) corpGroupMembersReply(w http.ResponseWriter, gid int64, err error) {
	if err != nil {
		corpErr(w, err)
		return
	}
	out := locked(s, func(wd *world) []map[string]any {
		g := wd.Groups[gid]
		if g == nil {
			return nil
		}
		return corpGroupMembers(wd, g, g.uids())
	})
	if out == nil {
		corpErr(w, ErrNoGroup)
		return
	}
	corpOK(w, map[string]any{"members": out})
}
