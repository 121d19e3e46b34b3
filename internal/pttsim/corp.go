package pttsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// Corp errcodes. The seed shows "105" (as a string) for a wrong account or
// password; the others are the simulator's, also sent as strings so that
// clients meet the seed's string errcode on every failure.
const (
	codeBadLogin     = "105"
	codeBadRequest   = "100"
	codeNoMember     = "110"
	codeNoGroup      = "120"
	codeExists       = "108"
	codeTokenInvalid = "40001" // corp.CodeTokenInvalid
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func corpOK(w http.ResponseWriter, data any) {
	if data == nil {
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "请求成功"})
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "请求成功", "data": data})
}

func corpFail(w http.ResponseWriter, code, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg})
}

func corpErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoMember):
		corpFail(w, codeNoMember, "成员不存在: "+err.Error())
	case errors.Is(err, ErrNoGroup):
		corpFail(w, codeNoGroup, "群组不存在")
	case errors.Is(err, ErrExists):
		corpFail(w, codeExists, "账号已存在: "+err.Error())
	default:
		corpFail(w, codeBadRequest, "参数错误: "+err.Error())
	}
}

// corpMember is an org member as the address list shows it.
func corpMember(w *world, m *Member) map[string]any {
	return map[string]any{"user_id": m.ID, "user_num": m.Num, "job_num": m.JobNum, "sex": m.Sex, "name": m.Name,
		"avatar": m.Avatar, "dept_id": m.DeptID, "country_code": "86", "phone": m.Phone, "type": m.Type,
		"tts": m.TTS, "loc_share": m.LocShare, "track": m.Track, "state": m.CorpState(), "created": m.Created,
		"online": 0, "dept_name": w.Depts[m.DeptID]}
}

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

// corpReq is every field any corp request of the seed carries. Numbers
// are httpapi.Int: the seed itself sends "org_num": "100103".
type corpReq struct {
	UserName     string        `json:"user_name"`
	Account      string        `json:"account"`
	Phone        string        `json:"phone"`
	Password     string        `json:"password"`
	RefreshToken string        `json:"refresh_token"`
	OrgNum       httpapi.Int   `json:"org_num"`
	MemberID     httpapi.Int   `json:"member_id"`
	MemberIDs    []httpapi.Int `json:"member_ids"`
	UserID       httpapi.Int   `json:"user_id"`
	GroupID      httpapi.Int   `json:"group_id"`
	DeptID       *httpapi.Int  `json:"dept_id"`
	Name         *string       `json:"name"`
	JobNum       *string       `json:"job_num"`
	Sex          *httpapi.Int  `json:"sex"`
	Avatar       *string       `json:"avatar"`
	TTS          *httpapi.Int  `json:"tts"`
	LocShare     *httpapi.Int  `json:"loc_share"`
	Track        *httpapi.Int  `json:"track"`
	State        *httpapi.Int  `json:"state"`
	BurstMode    *httpapi.Int  `json:"burst_mode"`
	Shutup       *httpapi.Int  `json:"shutup"`
	Prority      *httpapi.Int  `json:"prority"`
	UserNum      string        `json:"user_num"` // pttsim extension: member-add-device with a chosen account
	Date         string        `json:"date"`
	MsgID        httpapi.Int   `json:"msg_id"`
	MsgCount     httpapi.Int   `json:"msg_count"`
	Content      string        `json:"content"` // pttsim extension: message-send-group-message
}

func (s *Sim) corpLogin(w http.ResponseWriter, m *Member, password string) {
	if m == nil || m.Password != strings.ToLower(password) {
		s.mu.Unlock()
		corpFail(w, codeBadLogin, "账号或密码错误")
		return
	}
	now := s.now()
	ss := &session{uid: m.ID, token: newToken(), refresh: newToken(), expires: now.Add(s.o.TokenTTL), rexpires: now.Add(s.o.RefreshTTL)}
	s.sessions[ss.token], s.refresh[ss.refresh] = ss, ss
	s.stats.Logins++
	user := map[string]any{"id": m.ID, "num": m.Num, "job_num": m.JobNum, "sex": m.Sex, "name": m.Name,
		"bind_phone": m.Phone, "country_code": "86", "avatar": m.Avatar}
	data := map[string]any{"user": user,
		"account":      map[string]any{"user_name": m.Num, "country_code": "0", "password": newToken()},
		"org":          s.corpOrg(),
		"access_token": ss.token, "expires_in": int64(s.o.TokenTTL / time.Second), "refresh_token": ss.refresh}
	s.mu.Unlock()
	corpOK(w, data)
}

func (s *Sim) corpOrg() map[string]any {
	w := s.w
	devices := 0
	for _, m := range w.Members {
		if m.Type == TypeDevice {
			devices++
		}
	}
	return map[string]any{"num": w.OrgNum, "name": w.OrgName, "avatar": "http://favicon.weila.hk/default/org.png",
		"intro": "pttsim", "created": w.Created, "member_cnt": len(w.Members), "group_cnt": len(w.Groups),
		"group_ver": w.GroupVer, "address_ver": w.AddressVer, "device_cnt": devices, "device_ver": 1}
}

// corpAuth returns the caller's session, or answers with the token error.
func (s *Sim) corpAuth(w http.ResponseWriter, r *http.Request) *session {
	tok := r.URL.Query().Get("access-token")
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[tok]
	if ss == nil || !s.now().Before(ss.expires) {
		s.stats.TokenRefused++
		corpFail(w, codeTokenInvalid, "access-token 无效或已过期")
		return nil
	}
	return ss
}

const maxUpload = 100 << 20

func (s *Sim) handleCorp(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	if op == "file-upload" || op == "avatar-upload" {
		if s.corpAuth(w, r) != nil {
			s.upload(w, r, op)
		}
		return
	}
	var q corpReq
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &q)
	}
	if err != nil {
		corpFail(w, codeBadRequest, "参数错误: "+err.Error())
		return
	}
	switch op {
	case "login-by-name":
		s.mu.Lock()
		s.corpLogin(w, s.w.byNum(q.UserName), q.Password)
		return
	case "login":
		s.mu.Lock()
		m := s.w.byNum(q.Account)
		if m == nil {
			m = s.w.byPhone(q.Account)
		}
		s.corpLogin(w, m, q.Password)
		return
	case "login-by-phone":
		s.mu.Lock()
		s.corpLogin(w, s.w.byPhone(q.Phone), q.Password)
		return
	}
	ss := s.corpAuth(w, r)
	if ss == nil {
		return
	}
	switch op {
	case "user-selfinfo":
		m, ok := s.Member(ss.uid)
		if !ok {
			corpErr(w, ErrNoMember)
			return
		}
		corpOK(w, map[string]any{"user": map[string]any{"id": m.ID, "num": m.Num, "sex": m.Sex, "name": m.Name,
			"bind_phone": m.Phone, "country_code": "86", "avatar": m.Avatar}})
	case "org-my-org":
		s.mu.Lock()
		org := s.corpOrg()
		s.mu.Unlock()
		corpOK(w, map[string]any{"corp": org})
	case "get-address-list":
		s.mu.Lock()
		members := []map[string]any{}
		depts := map[int64][]map[string]any{}
		for _, m := range s.w.sortedMembers() {
			if m.DeptID == 0 || s.w.Depts[m.DeptID] == "" {
				members = append(members, corpMember(s.w, m))
			} else {
				depts[m.DeptID] = append(depts[m.DeptID], corpMember(s.w, m))
			}
		}
		dl := []map[string]any{}
		for id, name := range s.w.Depts {
			ms := depts[id]
			if ms == nil {
				ms = []map[string]any{}
			}
			dl = append(dl, map[string]any{"id": id, "name": name, "members": ms})
		}
		v := s.w.AddressVer
		s.mu.Unlock()
		corpOK(w, map[string]any{"address_list": map[string]any{"version": v, "members": members, "depts": dl}})
	case "member-getall":
		s.mu.Lock()
		ms := []map[string]any{}
		for _, m := range s.w.sortedMembers() {
			ms = append(ms, corpMember(s.w, m))
		}
		s.mu.Unlock()
		corpOK(w, map[string]any{"members": ms})
	case "member-create", "member-add-device":
		// The seed's password is already an MD5 hash: it is stored as sent.
		spec := MemberSpec{Num: q.UserNum, Phone: q.Phone, Type: TypeUser}
		if op == "member-add-device" {
			spec.Type, spec.Track = TypeDevice, 1
		}
		if q.Name != nil {
			spec.Name = *q.Name
		}
		if q.DeptID != nil {
			spec.DeptID = int64(*q.DeptID)
		}
		if q.TTS != nil {
			spec.TTS = int(*q.TTS)
		}
		if q.LocShare != nil {
			spec.LocShare = int(*q.LocShare)
		}
		if q.Track != nil {
			spec.Track = int(*q.Track)
		}
		m, err := s.AddMember(spec)
		if err == nil && q.Password != "" {
			m, err = s.setPasswordHash(m.ID, q.Password)
		}
		if err != nil {
			corpErr(w, err)
			return
		}
		s.mu.Lock()
		out := corpMember(s.w, s.w.Members[m.ID])
		out["org_num"] = s.w.OrgNum
		delete(out, "online")
		delete(out, "dept_name")
		s.mu.Unlock()
		corpOK(w, out)
	case "member-change":
		m, err := s.ChangeMember(int64(q.MemberID), func(m *Member) {
			if q.Name != nil {
				m.Name = *q.Name
			}
			if q.JobNum != nil {
				m.JobNum = *q.JobNum
			}
			if q.DeptID != nil {
				m.DeptID = int64(*q.DeptID)
			}
			if q.Sex != nil {
				m.Sex = int(*q.Sex)
			}
			if q.Avatar != nil {
				m.Avatar = *q.Avatar
			}
			if q.Phone != "" {
				m.Phone = q.Phone
			}
			if q.TTS != nil {
				m.TTS = int(*q.TTS)
			}
			if q.LocShare != nil {
				m.LocShare = int(*q.LocShare)
			}
			if q.Track != nil {
				m.Track = int(*q.Track)
			}
		})
		s.corpMemberReply(w, m, err)
	case "member-change-state":
		if q.State == nil || (*q.State != 0 && *q.State != 1) {
			corpFail(w, codeBadRequest, "参数错误: state 0 启用 1 暂停")
			return
		}
		st := StateActive
		if *q.State == 1 {
			st = StatePaused
		}
		m, err := s.SetMemberState(int64(q.MemberID), st)
		s.corpMemberReply(w, m, err)
	case "member-delete":
		if err := s.DeleteMember(int64(q.MemberID)); err != nil {
			corpErr(w, err)
			return
		}
		corpOK(w, nil)
	case "dept-create", "dept-change", "dept-delete", "dept-getall", "dept-member-getall":
		s.corpDept(w, op, &q)
	case "group-create":
		spec := GroupSpec{Creator: ss.uid}
		if q.Name != nil {
			spec.Name = *q.Name
		}
		if q.BurstMode != nil {
			spec.BurstMode = int(*q.BurstMode)
		}
		g, err := s.CreateGroup(spec)
		if err != nil {
			corpErr(w, err)
			return
		}
		corpOK(w, map[string]any{"id": g.ID, "name": g.Name, "avatar": g.Avatar, "user_count": 0,
			"member_version": g.MemberVersion, "burst_mode": g.BurstMode, "shutup": g.Shutup, "created": g.Created})
	case "group-change":
		g, err := s.ChangeGroup(int64(q.GroupID), func(g *Group) {
			if q.Name != nil {
				g.Name = *q.Name
			}
			if q.Avatar != nil {
				g.Avatar = *q.Avatar
			}
			if q.BurstMode != nil {
				g.BurstMode = int(*q.BurstMode)
			}
			if q.Shutup != nil {
				g.Shutup = int(*q.Shutup)
			}
		})
		if err != nil {
			corpErr(w, err)
			return
		}
		corpOK(w, map[string]any{"group": corpGroup(&g)})
	case "group-delete":
		if err := s.DeleteGroup(int64(q.GroupID)); err != nil {
			corpErr(w, err)
			return
		}
		corpOK(w, nil)
	case "group-getall":
		s.mu.Lock()
		gs := []map[string]any{}
		for _, g := range s.w.sortedGroups() {
			gs = append(gs, corpGroup(g))
		}
		s.mu.Unlock()
		corpOK(w, map[string]any{"groups": gs})
	case "group-member-add":
		var uids []int64
		for _, id := range q.MemberIDs {
			uids = append(uids, int64(id))
		}
		added, err := s.AddGroupMembers(int64(q.GroupID), uids)
		if err != nil {
			corpErr(w, err)
			return
		}
		s.mu.Lock()
		out := []map[string]any{}
		for _, uid := range added {
			m := s.w.Members[uid]
			out = append(out, map[string]any{"user_id": m.ID, "user_num": m.Num, "sex": m.Sex, "name": m.Name, "avatar": m.Avatar})
		}
		s.mu.Unlock()
		corpOK(w, map[string]any{"members": out})
	case "group-member-change":
		err := s.ChangeGroupMember(int64(q.GroupID), int64(q.MemberID), func(gm *GroupMember) {
			if q.Prority != nil {
				gm.Priority = int(*q.Prority)
			}
			if q.TTS != nil {
				gm.TTS = int(*q.TTS)
			}
			if q.LocShare != nil {
				gm.LocShare = int(*q.LocShare)
			}
		})
		s.corpGroupMembersReply(w, int64(q.GroupID), err)
	case "group-member-delete":
		var uids []int64
		for _, id := range q.MemberIDs {
			uids = append(uids, int64(id))
		}
		err := s.DeleteGroupMembers(int64(q.GroupID), uids)
		s.corpGroupMembersReply(w, int64(q.GroupID), err)
	case "group-member-getall":
		s.corpGroupMembersReply(w, int64(q.GroupID), nil)
	case "location-get-track":
		s.corpTrack(w, &q)
	case "message-get-group-history-message":
		s.corpHistory(w, &q)
	case "message-send-group-message":
		// pttsim's own (the seed reads history but has no send): a text
		// message from the caller to a group, pushed to its handsets.
		id, err := s.SendText(int64(q.GroupID), ss.uid, q.Content)
		if err != nil {
			corpErr(w, err)
			return
		}
		corpOK(w, map[string]any{"msg_id": id})
	default:
		w.WriteHeader(http.StatusNotFound)
		corpFail(w, "404", "pttsim does not serve "+op)
	}
}

func (s *Sim) setPasswordHash(id int64, hash string) (Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.Members[id]
	if m == nil {
		return Member{}, ErrNoMember
	}
	m.Password = strings.ToLower(hash)
	return *m, nil
}

func (s *Sim) corpMemberReply(w http.ResponseWriter, m Member, err error) {
	if err != nil {
		corpErr(w, err)
		return
	}
	s.mu.Lock()
	out := corpMember(s.w, &m)
	out["org_num"] = s.w.OrgNum
	delete(out, "online")
	delete(out, "dept_name")
	s.mu.Unlock()
	corpOK(w, out)
}

func (s *Sim) corpGroupMembersReply(w http.ResponseWriter, gid int64, err error) {
	if err != nil {
		corpErr(w, err)
		return
	}
	s.mu.Lock()
	g := s.w.Groups[gid]
	if g == nil {
		s.mu.Unlock()
		corpErr(w, ErrNoGroup)
		return
	}
	out := corpGroupMembers(s.w, g, g.uids())
	s.mu.Unlock()
	corpOK(w, map[string]any{"members": out})
}

func (s *Sim) corpDept(w http.ResponseWriter, op string, q *corpReq) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := ""
	if q.Name != nil {
		name = *q.Name
	}
	var id int64
	if q.DeptID != nil {
		id = int64(*q.DeptID)
	}
	switch op {
	case "dept-create":
		id = 1
		for s.w.Depts[id] != "" {
			id++
		}
		s.w.Depts[id] = name
		bump(&s.w.AddressVer, s.now())
		s.dirty = true
		corpOK(w, map[string]any{"id": id, "name": name})
	case "dept-change":
		if s.w.Depts[id] == "" {
			corpFail(w, codeBadRequest, "部门不存在")
			return
		}
		s.w.Depts[id] = name
		bump(&s.w.AddressVer, s.now())
		s.dirty = true
		corpOK(w, map[string]any{"id": id, "name": name})
	case "dept-delete":
		delete(s.w.Depts, id)
		bump(&s.w.AddressVer, s.now())
		s.dirty = true
		corpOK(w, nil)
	case "dept-getall":
		out := []map[string]any{}
		for did, n := range s.w.Depts {
			c := 0
			for _, m := range s.w.Members {
				if m.DeptID == did {
					c++
				}
			}
			out = append(out, map[string]any{"id": did, "name": n, "user_count": c})
		}
		corpOK(w, map[string]any{"depts": out})
	case "dept-member-getall":
		out := []map[string]any{}
		for _, m := range s.w.sortedMembers() {
			if m.DeptID == id {
				out = append(out, corpMember(s.w, m))
			}
		}
		corpOK(w, map[string]any{"members": out})
	}
}

// corpTrack serves location-get-track {user_id, date}: the points of that
// day (the simulator's local time zone), oldest first.
func (s *Sim) corpTrack(w http.ResponseWriter, q *corpReq) {
	m, ok := s.Member(int64(q.UserID))
	if !ok {
		corpErr(w, ErrNoMember)
		return
	}
	day, err := time.ParseInLocation("2006-01-02", q.Date, time.Local)
	if err != nil {
		corpFail(w, codeBadRequest, "参数错误: date must be YYYY-MM-DD")
		return
	}
	out := []map[string]any{}
	for _, p := range s.Tracks(m.Num) {
		if p.Created >= day.Unix() && p.Created < day.AddDate(0, 0, 1).Unix() {
			out = append(out, map[string]any{"latitude": p.Latitude, "longitude": p.Longitude, "created": p.Created})
		}
	}
	corpOK(w, map[string]any{"tracks": out})
}

func (s *Sim) corpHistory(w http.ResponseWriter, q *corpReq) {
	gid := int64(q.GroupID)
	if _, ok := s.Group(gid); !ok {
		corpErr(w, ErrNoGroup)
		return
	}
	count := int(q.MsgCount)
	if count <= 0 || count > 100 {
		count = 20
	}
	all := s.Messages(gid)
	out := []Message{}
	users := map[int64]bool{}
	// Newest first, as the seed; msg_id > 0 pages backwards from it.
	for i := len(all) - 1; i >= 0 && len(out) < count; i-- {
		msg := all[i]
		if q.MsgID > 0 && msg.MsgID >= int64(q.MsgID) {
			continue
		}
		if q.Date != "" && time.Unix(msg.Created, 0).Format("2006-01-02") > q.Date {
			continue
		}
		out = append(out, msg)
		users[msg.UserID] = true
	}
	ul := []map[string]any{}
	for uid := range users {
		if m, ok := s.Member(uid); ok {
			ul = append(ul, map[string]any{"user_id": m.ID, "user_num": m.Num, "name": m.Name, "avatar": m.Avatar})
		}
	}
	corpOK(w, map[string]any{"messages": out, "users": ul})
}

// upload stores a multipart "file" (≤ 100 MB; avatars ≤ 4 MB) and returns
// its URL, served by /files/.
func (s *Sim) upload(w http.ResponseWriter, r *http.Request, op string) {
	limit := int64(maxUpload)
	if op == "avatar-upload" {
		limit = 4 << 20
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		corpFail(w, codeBadRequest, "参数错误: multipart field \"file\": "+err.Error())
		return
	}
	defer f.Close()
	if hdr.Size > limit {
		corpFail(w, codeBadRequest, fmt.Sprintf("文件过大: %d bytes, at most %d", hdr.Size, limit))
		return
	}
	name := fmt.Sprintf("%d-%s%s", s.now().UnixNano(), newToken()[:6], strings.ToLower(filepath.Ext(hdr.Filename)))
	out, err := os.Create(s.filePath(name))
	if err == nil {
		_, err = io.Copy(out, io.LimitReader(f, limit))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		corpFail(w, "500", "存储失败: "+err.Error())
		return
	}
	corpOK(w, map[string]any{"url": s.baseURL(r) + "/files/" + name})
}

func (s *Sim) baseURL(r *http.Request) string {
	if s.o.PublicURL != "" {
		return strings.TrimRight(s.o.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
