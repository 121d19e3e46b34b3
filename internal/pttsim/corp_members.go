package pttsim

import (
	"net/http"
	"strings"
	"time"
)

// The corp address list: members, and the departments they are listed in.

// corpMember is an org member as the address list shows it.
func corpMember(w *world, m *Member) map[string]any {
	return map[string]any{"user_id": m.ID, "user_num": m.Num, "job_num": m.JobNum, "sex": m.Sex, "name": m.Name,
		"avatar": m.Avatar, "dept_id": m.DeptID, "country_code": "86", "phone": m.Phone, "type": m.Type,
		"tts": m.TTS, "loc_share": m.LocShare, "track": m.Track, "state": m.CorpState(), "created": m.Created,
		"online": 0, "dept_name": w.Depts[m.DeptID]}
}

// corpMemberOut is a member as member-create and member-change answer it.
func corpMemberOut(w *world, m *Member) map[string]any {
	out := corpMember(w, m)
	out["org_num"] = w.OrgNum
	delete(out, "online")
	delete(out, "dept_name")
	return out
}

func (s *Sim) corpAddressList(w http.ResponseWriter, _ *corpCall) {
	corpOK(w, map[string]any{"address_list": locked(s, func(wd *world) map[string]any {
		members := []map[string]any{}
		depts := map[int64][]map[string]any{}
		for _, m := range wd.sortedMembers() {
			if m.DeptID == 0 || wd.Depts[m.DeptID] == "" {
				members = append(members, corpMember(wd, m))
			} else {
				depts[m.DeptID] = append(depts[m.DeptID], corpMember(wd, m))
			}
		}
		dl := []map[string]any{}
		for id, name := range wd.Depts {
			ms := depts[id]
			if ms == nil {
				ms = []map[string]any{}
			}
			dl = append(dl, map[string]any{"id": id, "name": name, "members": ms})
		}
		return map[string]any{"version": wd.AddressVer, "members": members, "depts": dl}
	})})
}

func (s *Sim) corpMemberGetAll(w http.ResponseWriter, _ *corpCall) {
	corpOK(w, map[string]any{"members": locked(s, func(wd *world) []map[string]any {
		ms := []map[string]any{}
		for _, m := range wd.sortedMembers() {
			ms = append(ms, corpMember(wd, m))
		}
		return ms
	})})
}

// corpMemberCreate serves member-create and member-add-device: a device
// tracks by default.
func (s *Sim) corpMemberCreate(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	spec := MemberSpec{Num: q.UserNum, Phone: q.Phone, Type: TypeUser}
	if c.op == "member-add-device" {
		spec.Type, spec.Track = TypeDevice, 1
	}
	setStr(&spec.Name, q.Name)
	setNum(&spec.DeptID, q.DeptID)
	setNum(&spec.TTS, q.TTS)
	setNum(&spec.LocShare, q.LocShare)
	setNum(&spec.Track, q.Track)
	var out map[string]any
	err := s.change(func(wd *world, now time.Time) ([]outEvent, error) {
		m, err := wd.addMember(spec, now)
		if err != nil {
			return nil, err
		}
		// The seed's password is already an MD5 hash: it is stored as sent.
		if q.Password != "" {
			m.Password = strings.ToLower(q.Password)
		}
		out = corpMemberOut(wd, m)
		return nil, nil
	})
	corpReply(w, out, err)
}

func (s *Sim) corpMemberChange(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	m, err := s.ChangeMember(int64(q.MemberID), func(m *Member) {
		setStr(&m.Name, q.Name)
		setStr(&m.JobNum, q.JobNum)
		setNum(&m.DeptID, q.DeptID)
		setNum(&m.Sex, q.Sex)
		setStr(&m.Avatar, q.Avatar)
		if q.Phone != "" {
			m.Phone = q.Phone
		}
		setNum(&m.TTS, q.TTS)
		setNum(&m.LocShare, q.LocShare)
		setNum(&m.Track, q.Track)
	})
	s.corpMemberReply(w, m, err)
}

// corpMemberChangeState serves member-change-state: corp 0 is active, 1
// paused.
func (s *Sim) corpMemberChangeState(w http.ResponseWriter, c *corpCall) {
	st := c.q.State
	if st == nil || (*st != 0 && *st != 1) {
		corpFail(w, codeBadRequest, "参数错误: state 0 启用 1 暂停")
		return
	}
	state := StateActive
	if *st == 1 {
		state = StatePaused
	}
	m, err := s.SetMemberState(int64(c.q.MemberID), state)
	s.corpMemberReply(w, m, err)
}

func (s *Sim) corpMemberDelete(w http.ResponseWriter, c *corpCall) {
	corpReply(w, nil, s.DeleteMember(int64(c.q.MemberID)))
}

func (s *Sim) corpMemberReply(w http.ResponseWriter, m Member, err error) {
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, locked(s, func(wd *world) map[string]any { return corpMemberOut(wd, &m) }))
}
