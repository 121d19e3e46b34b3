package pttsim

import (
	"fmt"
	"slices"
	"time"
)

// The operations an operator (or a test) performs. Each one changes the
// world, bumps the versions the seed's clients use to skip refetching
// (org address_ver / group_ver, group member_version) and publishes the
// event(s) docs/protocol.md lists to every member concerned.

// AddMember creates a member (corp member-create / member-add-device,
// wapi user/register).
func (s *Sim) AddMember(spec MemberSpec) (Member, error) {
	var out Member
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		m, err := w.addMember(spec, now)
		if err != nil {
			return nil, err
		}
		out = *m
		return nil, nil
	})
	return out, err
}

// Member returns a copy of a member.
func (s *Sim) Member(id int64) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.Members[id]
	if m == nil {
		return Member{}, false
	}
	return *m, true
}

// MemberByNum finds a member by corp user_num (= wapi account).
func (s *Sim) MemberByNum(num string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.byNum(num)
	if m == nil {
		return Member{}, false
	}
	return *m, true
}

// Members lists every member, by id.
func (s *Sim) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Member
	for _, m := range s.w.sortedMembers() {
		out = append(out, *m)
	}
	return out
}

func memberEvent(w *world, m *Member, msgType string, content any) outEvent {
	to := []int64{m.ID}
	for _, g := range w.groupsOf(m.ID) {
		to = append(to, g.uids()...)
	}
	return outEvent{to: w.accounts(to...), msgType: msgType, content: content, wapi: "wapi-user-update", wapiIDs: []int64{m.ID}}
}

// ChangeMember applies f to a member (corp member-change) and tells the
// member and everyone in its groups.
func (s *Sim) ChangeMember(id int64, f func(*Member)) (Member, error) {
	var out Member
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		m := w.Members[id]
		if m == nil {
			return nil, ErrNoMember
		}
		f(m)
		bump(&w.AddressVer, now)
		out = *m
		return []outEvent{memberEvent(w, m, "corp-member-change", map[string]any{"member": corpMember(w, m)})}, nil
	})
	return out, err
}

// SetMemberState sets the state (wapi numbering; corp 0 → StateActive,
// 1 → StatePaused) — corp member-change-state.
func (s *Sim) SetMemberState(id int64, state int) (Member, error) {
	var out Member
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		m := w.Members[id]
		if m == nil {
			return nil, ErrNoMember
		}
		if state < StateInactive || state > StateKilled {
			return nil, fmt.Errorf("%w: state %d", ErrBadRequest, state)
		}
		m.State = state
		bump(&w.AddressVer, now)
		out = *m
		ev := memberEvent(w, m, "corp-member-state-change", map[string]any{"member": map[string]any{"user_id": m.ID, "state": m.CorpState()}})
		ev.to = w.accounts(m.ID)
		return []outEvent{ev}, nil
	})
	return out, err
}

// DeleteMember removes a member from the org and its groups.
func (s *Sim) DeleteMember(id int64) error {
	return s.change(func(w *world, now time.Time) ([]outEvent, error) {
		m := w.Members[id]
		if m == nil {
			return nil, ErrNoMember
		}
		ev := memberEvent(w, m, "corp-member-delete", map[string]any{"member": map[string]any{"user_id": id}})
		ev.wapi = "wapi-user-delete"
		for _, g := range w.groupsOf(id) {
			g.Members = slices.DeleteFunc(g.Members, func(x *GroupMember) bool { return x.UserID == id })
			g.MemberVersion++
			bump(&w.GroupVer, now)
		}
		delete(w.Members, id)
		bump(&w.AddressVer, now)
		return []outEvent{ev}, nil
	})
}

// GroupSpec creates a group.
type GroupSpec struct {
	Name      string
	Creator   int64
	BurstMode int
	Shutup    int
	Priority  int // wapi; 0: 10
	TalkTime  int // wapi seconds; 0: 60
	Members   []int64
}

// CreateGroup creates a group (corp group-create, wapi group/create).
func (s *Sim) CreateGroup(spec GroupSpec) (Group, error) {
	var out Group
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		for _, uid := range spec.Members {
			if w.Members[uid] == nil {
				return nil, fmt.Errorf("%w: %d", ErrNoMember, uid)
			}
		}
		w.NextGroup++
		g := &Group{ID: w.NextGroup, Name: spec.Name, Creator: spec.Creator, Type: 17, BurstMode: spec.BurstMode,
			Shutup: spec.Shutup, MemberVersion: 1, Priority: spec.Priority, TalkTime: spec.TalkTime, Created: now.Unix(),
			Avatar: "http://favicon.weila.hk/default/group.png"}
		if g.Priority == 0 {
			g.Priority = 10
		}
		if g.TalkTime == 0 {
			g.TalkTime = 60
		}
		for _, uid := range spec.Members {
			if g.member(uid) == nil {
				g.Members = append(g.Members, &GroupMember{UserID: uid, CallPermission: "Y", CanSpeak: "Y"})
			}
		}
		w.Groups[g.ID] = g
		bump(&w.GroupVer, now)
		out = copyGroup(g)
		if len(g.Members) == 0 {
			return nil, nil
		}
		return []outEvent{{to: w.accounts(g.uids()...), msgType: "corp-group-member-add",
			content: map[string]any{"group": corpGroup(g), "members": corpGroupMembers(w, g, g.uids())},
			wapi:    "wapi-user-update", wapiIDs: g.uids()}}, nil
	})
	return out, err
}

func copyGroup(g *Group) Group {
	c := *g
	c.Members = make([]*GroupMember, len(g.Members))
	for i, m := range g.Members {
		x := *m
		c.Members[i] = &x
	}
	return c
}

// Group returns a copy of a group.
func (s *Sim) Group(id int64) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.Groups[id]
	if g == nil {
		return Group{}, false
	}
	return copyGroup(g), true
}

// Groups lists every group, by id.
func (s *Sim) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Group
	for _, g := range s.w.sortedGroups() {
		out = append(out, copyGroup(g))
	}
	return out
}

// ChangeGroup applies f to a group's settings (corp group-change).
func (s *Sim) ChangeGroup(id int64, f func(*Group)) (Group, error) {
	var out Group
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		g := w.Groups[id]
		if g == nil {
			return nil, ErrNoGroup
		}
		f(g)
		bump(&w.GroupVer, now)
		out = copyGroup(g)
		return []outEvent{{to: w.accounts(g.uids()...), msgType: "corp-group-change",
			content: map[string]any{"group": corpGroup(g)}, wapi: "wapi-user-update", wapiIDs: g.uids()}}, nil
	})
	return out, err
}

// DeleteGroup deletes a group (corp group-delete).
func (s *Sim) DeleteGroup(id int64) error {
	return s.change(func(w *world, now time.Time) ([]outEvent, error) {
		g := w.Groups[id]
		if g == nil {
			return nil, ErrNoGroup
		}
		delete(w.Groups, id)
		delete(w.Messages, id)
		bump(&w.GroupVer, now)
		return []outEvent{{to: w.accounts(g.uids()...), msgType: "corp-group-delete",
			content: map[string]any{"group": map[string]any{"id": g.ID, "name": g.Name}}, wapi: "wapi-user-update", wapiIDs: g.uids()}}, nil
	})
}

// AddGroupMembers adds members (corp group-member-add); it returns the
// members added.
func (s *Sim) AddGroupMembers(gid int64, uids []int64) ([]int64, error) {
	var added []int64
	err := s.change(func(w *world, now time.Time) ([]outEvent, error) {
		g := w.Groups[gid]
		if g == nil {
			return nil, ErrNoGroup
		}
		for _, uid := range uids {
			if w.Members[uid] == nil {
				return nil, fmt.Errorf("%w: %d", ErrNoMember, uid)
			}
		}
		for _, uid := range uids {
			if g.member(uid) == nil {
				g.Members = append(g.Members, &GroupMember{UserID: uid, CallPermission: "Y", CanSpeak: "Y"})
				added = append(added, uid)
			}
		}
		if len(added) == 0 {
			return nil, nil
		}
		g.MemberVersion++
		bump(&w.GroupVer, now)
		return []outEvent{{to: w.accounts(g.uids()...), msgType: "corp-group-member-add",
			content: map[string]any{"group": corpGroup(g), "members": corpGroupMembers(w, g, added)},
			wapi:    "wapi-user-update", wapiIDs: added}}, nil
	})
	return added, err
}

// ChangeGroupMember applies f to a member's place in a group (corp
// group-member-change, wapi group/bind).
func (s *Sim) ChangeGroupMember(gid, uid int64, f func(*GroupMember)) error {
	return s.change(func(w *world, now time.Time) ([]outEvent, error) {
		g := w.Groups[gid]
		if g == nil {
			return nil, ErrNoGroup
		}
		gm := g.member(uid)
		if gm == nil {
			return nil, ErrNoMember
		}
		f(gm)
		g.MemberVersion++
		bump(&w.GroupVer, now)
		return []outEvent{{to: w.accounts(g.uids()...), msgType: "corp-group-member-change",
			content: map[string]any{"group": corpGroup(g), "members": corpGroupMembers(w, g, []int64{uid})},
			wapi:    "wapi-user-update", wapiIDs: []int64{uid}}}, nil
	})
}

// DeleteGroupMembers removes members (corp group-member-delete); the
// removed members hear of it too.
func (s *Sim) DeleteGroupMembers(gid int64, uids []int64) error {
	return s.change(func(w *world, now time.Time) ([]outEvent, error) {
		g := w.Groups[gid]
		if g == nil {
			return nil, ErrNoGroup
		}
		to := w.accounts(g.uids()...)
		removed := corpGroupMembers(w, g, uids)
		n := len(g.Members)
		g.Members = slices.DeleteFunc(g.Members, func(x *GroupMember) bool { return slices.Contains(uids, x.UserID) })
		if len(g.Members) == n {
			return nil, nil
		}
		g.MemberVersion++
		bump(&w.GroupVer, now)
		return []outEvent{{to: to, msgType: "corp-group-member-delete",
			content: map[string]any{"group": corpGroup(g), "members": removed}, wapi: "wapi-user-update", wapiIDs: uids}}, nil
	})
}

// AppendMessage adds a message to a group's history and returns its
// msg_id (push-to-talk voice messages are type 3 {"url","duration"}).
func (s *Sim) AppendMessage(gid int64, m Message) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w.Groups[gid] == nil {
		return 0, ErrNoGroup
	}
	s.w.NextMsg++
	m.MsgID = s.w.NextMsg
	if m.Created == 0 {
		m.Created = s.now().Unix()
	}
	s.w.Messages[gid] = append(s.w.Messages[gid], m)
	s.dirty = true
	return m.MsgID, nil
}

// Messages returns a group's history, oldest first.
func (s *Sim) Messages(gid int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.w.Messages[gid])
}

// AppendAudioRecord stores a talk recording (wapi ptt/audioRecord).
func (s *Sim) AppendAudioRecord(r AudioRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Records = append(s.w.Records, r)
	s.dirty = true
}

// AudioRecords returns every recording, oldest first.
func (s *Sim) AudioRecords() []AudioRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.w.Records)
}

// ExpireTokens ends every access token now (tests: expiry).
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.expires = s.now().Add(-time.Second)
	}
}

// RevokeRefreshTokens makes every refresh token refused (tests).
func (s *Sim) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = map[string]*session{}
}
