package pttsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// wapi status codes of the seed's table.
const (
	wapiOK          = 200
	wapiNotLoggedIn = 501
	wapiBadParam    = 502
	wapiNoAccount   = 504
	wapiBadLogin    = 505
	wapiExists      = 508
	wapiNoGroup     = 514
	wapiNoUser      = 517
)

func wapiReply(w http.ResponseWriter, status int, msg string, data any) {
	writeJSON(w, map[string]any{"status": status, "message": msg, "data": data})
}

func wapiErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoMember):
		wapiReply(w, wapiNoUser, "用户不存在", nil)
	case errors.Is(err, ErrNoGroup):
		wapiReply(w, wapiNoGroup, "群组不存在", nil)
	case errors.Is(err, ErrExists):
		wapiReply(w, wapiExists, "账号已存在", nil)
	default:
		wapiReply(w, wapiBadParam, "参数错误: "+err.Error(), nil)
	}
}

type wapiReq struct {
	ID       httpapi.Int     `json:"id"`
	Account  json.RawMessage `json:"account"` // a string (login) or a list (register)
	Name     json.RawMessage `json:"name"`
	Password string          `json:"password"`
	OID      httpapi.Int     `json:"oid"`
	GID      httpapi.Int     `json:"gid"`
	UIDs     []httpapi.Int   `json:"uids"`
	PttIDs   []httpapi.Int   `json:"pttIds"`
	Users    []struct {
		ID             httpapi.Int `json:"id"`
		Priority       httpapi.Int `json:"priority"`
		CallPermission string      `json:"callPermission"`
		CanSpeak       string      `json:"canSpeak"`
	} `json:"users"`
	StartTime      string      `json:"startTime"`
	EndTime        string      `json:"endTime"`
	StartTimestamp httpapi.Int `json:"startTimestamp"`
	EndTimestamp   httpapi.Int `json:"endTimestamp"`
	UserID         httpapi.Int `json:"userId"`
	Date           httpapi.Int `json:"date"`
	Page           struct {
		Size    httpapi.Int `json:"size"`
		Current httpapi.Int `json:"current"`
	} `json:"page"`
}

func (s *Sim) wapiAuth(w http.ResponseWriter, r *http.Request) *session {
	tok := r.Header.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[tok]
	if ss == nil || !s.now().Before(ss.expires) {
		s.stats.TokenRefused++
		wapiReply(w, wapiNotLoggedIn, "未登录", nil)
		return nil
	}
	return ss
}

func (s *Sim) handleWapi(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/wapi/")
	var q wapiReq
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &q)
	}
	if err != nil {
		wapiReply(w, wapiBadParam, "参数错误: "+err.Error(), nil)
		return
	}
	if path == "user/login" {
		s.wapiLogin(w, &q)
		return
	}
	if s.wapiAuth(w, r) == nil {
		return
	}
	switch path {
	case "user/info":
		id := int64(q.ID)
		if v := r.URL.Query().Get("id"); v != "" {
			id, _ = strconv.ParseInt(v, 10, 64)
		}
		s.wapiUserInfo(w, id)
	case "organization/getOrganizationTree2":
		s.mu.Lock()
		var groups []map[string]any
		for _, g := range s.w.sortedGroups() {
			users := []map[string]any{}
			for _, gm := range g.Members {
				if m := s.w.Members[gm.UserID]; m != nil {
					users = append(users, map[string]any{"gid": g.ID, "uid": m.ID, "account": m.Num, "name": m.Name})
				}
			}
			groups = append(groups, map[string]any{"gid": g.ID, "type": 1, "name": g.Name, "users": users})
		}
		tree := map[string]any{"id": s.w.OrgNum, "name": s.w.OrgName, "type": 0, "children": groups}
		s.mu.Unlock()
		wapiReply(w, wapiOK, "成功", tree)
	case "orgUser/tree":
		s.mu.Lock()
		users := []map[string]any{}
		for _, m := range s.w.sortedMembers() {
			users = append(users, map[string]any{"type": 1, "id": m.ID, "account": m.Num, "name": m.Name,
				"pinyin": m.Name + "|" + m.Name, "online": b01(s.isOnline(m.Num)), "priority": m.Priority})
		}
		org := map[string]any{"type": 0, "id": strconv.FormatInt(s.w.OrgNum, 10), "parentId": "0", "name": s.w.OrgName,
			"pinyin": s.w.OrgName + "|" + s.w.OrgName, "groupCount": len(s.w.Groups), "children": users}
		s.mu.Unlock()
		wapiReply(w, wapiOK, "成功", []any{org})
	case "user/register":
		var accounts, names []string
		if json.Unmarshal(q.Account, &accounts) != nil || json.Unmarshal(q.Name, &names) != nil || len(accounts) != len(names) || q.Password == "" {
			wapiReply(w, wapiBadParam, "参数错误: account[], name[] of the same length and password", nil)
			return
		}
		var out []map[string]any
		for i, a := range accounts {
			m, err := s.AddMember(MemberSpec{Num: a, Name: names[i], Password: q.Password, Type: TypeDevice})
			if err != nil {
				wapiErr(w, err)
				return
			}
			out = append(out, wapiUser(&m))
		}
		wapiReply(w, wapiOK, "", out)
	case "user/delete":
		for _, id := range q.PttIDs {
			if err := s.DeleteMember(int64(id)); err != nil {
				wapiErr(w, err)
				return
			}
		}
		wapiReply(w, wapiOK, "", nil)
	case "group/create":
		var name string
		json.Unmarshal(q.Name, &name)
		spec := GroupSpec{Name: name}
		for _, id := range q.UIDs {
			spec.Members = append(spec.Members, int64(id))
		}
		g, err := s.CreateGroup(spec)
		if err != nil {
			wapiErr(w, err)
			return
		}
		now := time.Unix(g.Created, 0).Format("2006-1-2 15:04:05")
		wapiReply(w, wapiOK, "", map[string]any{"id": g.ID, "type": 0, "name": g.Name, "pinyin": g.Name,
			"priority": g.Priority, "talkTime": g.TalkTime, "myPttCount": len(g.Members), "minTalkPriority": 10,
			"minListenPriority": 10, "ctime": now, "utime": now, "deletedMarker": 0})
	case "group/bind":
		s.wapiBind(w, &q)
	case "location/getLatestCoords":
		s.wapiLatest(w, &q)
	case "location/trackPlayback":
		s.wapiPlayback(w, &q)
	case "ptt/audioRecord":
		s.wapiAudio(w, r, &q)
	case "accept/event":
		s.wapiAcceptEvent(w, body)
	case "pttUser/isOnline":
		s.wapiIsOnline(w, &q)
	case "group/cgt/inThisGroupUids":
		s.wapiInThisGroup(w, &q)
	case "device/bind":
		s.wapiDeviceBind(w, body)
	default:
		w.WriteHeader(http.StatusNotFound)
		wapiReply(w, wapiBadParam, "pttsim does not serve /wapi/"+path, nil)
	}
}

func wapiUser(m *Member) map[string]any {
	typ := 0
	if m.Type == TypeOwner {
		typ = 1
	}
	return map[string]any{"id": m.ID, "type": typ, "account": m.Num, "password": m.Password, "name": m.Name,
		"pinyin": m.Name + "|" + m.Name, "state": m.State, "myGroupCount": 0, "priority": m.Priority,
		"myBloc": 113, "myOrg": 113, "expirationTime": "2099-12-31T16:00:00.000+00:00",
		"firstActiveTime": time.Unix(m.Created, 0).UTC().Format("2006-01-02T15:04:05.000+00:00")}
}

// wapiLogin is POST /wapi/user/login {account, password (MD5)}: not in
// the seed, which calls every endpoint with a token obtained elsewhere;
// pttsim's assumption, documented in docs/protocol.md.
func (s *Sim) wapiLogin(w http.ResponseWriter, q *wapiReq) {
	var account string
	json.Unmarshal(q.Account, &account)
	s.mu.Lock()
	m := s.w.byNum(account)
	if m == nil {
		s.mu.Unlock()
		wapiReply(w, wapiNoAccount, "账号不存在", nil)
		return
	}
	if m.Password != strings.ToLower(q.Password) {
		s.mu.Unlock()
		wapiReply(w, wapiBadLogin, "账号或密码错误", nil)
		return
	}
	now := s.now()
	ss := &session{uid: m.ID, token: newToken(), expires: now.Add(s.o.TokenTTL)}
	s.sessions[ss.token] = ss
	s.stats.Logins++
	s.mu.Unlock()
	wapiReply(w, wapiOK, "成功", map[string]any{"token": ss.token, "id": m.ID, "account": m.Num,
		"expiresIn": int64(s.o.TokenTTL / time.Second)})
}

// IssueToken opens a wapi session for account, as a platform operator
// hands out the token a handset keeps in platform_token (seed 003 calls
// every endpoint with a token and has no login call). It lives
// Options.TokenTTL.
func (s *Sim) IssueToken(account string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.byNum(account)
	if m == nil {
		return "", fmt.Errorf("%w: %s", ErrNoMember, account)
	}
	ss := &session{uid: m.ID, token: newToken(), expires: s.now().Add(s.o.TokenTTL)}
	s.sessions[ss.token] = ss
	return ss.token, nil
}

func (s *Sim) wapiUserInfo(w http.ResponseWriter, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.Members[id]
	if m == nil {
		wapiReply(w, wapiNoUser, "用户不存在", nil)
		return
	}
	groups := []map[string]any{}
	for _, g := range s.w.groupsOf(id) {
		gm := g.member(id)
		groups = append(groups, map[string]any{"id": g.ID, "type": 0, "name": g.Name, "pinyin": g.Name,
			"priority": g.Priority, "innerPriority": gm.Priority,
			// Not in the seed's user/info: see uplink/platform/wapi.UserInfo.
			"talkTime": g.TalkTime, "callPermission": gm.CallPermission, "canSpeak": gm.CanSpeak})
	}
	typ := 0
	if m.Type == TypeOwner {
		typ = 1
	}
	online := 0
	if s.isOnline(m.Num) || s.online(m.Num) { // presence, or a recent track point
		online = 1
	}
	info := map[string]any{"id": m.ID, "account": m.Num, "name": m.Name,
		"pinyin": m.Name + "|" + m.Name, "online": online, "priority": m.Priority, "state": m.State, "type": typ, "groups": groups}
	s.deviceInfo(m.Num, info)
	wapiReply(w, wapiOK, "成功", info)
}

func (s *Sim) wapiBind(w http.ResponseWriter, q *wapiReq) {
	gid := int64(q.GID)
	var add []int64
	for _, u := range q.Users {
		add = append(add, int64(u.ID))
	}
	if _, err := s.AddGroupMembers(gid, add); err != nil {
		wapiErr(w, err)
		return
	}
	for _, u := range q.Users {
		err := s.ChangeGroupMember(gid, int64(u.ID), func(gm *GroupMember) {
			gm.Priority = int(u.Priority)
			gm.CallPermission, gm.CanSpeak = yn(u.CallPermission), yn(u.CanSpeak)
		})
		if err != nil {
			wapiErr(w, err)
			return
		}
	}
	wapiReply(w, wapiOK, "", nil)
}

func yn(v string) string {
	if strings.EqualFold(v, "N") {
		return "N"
	}
	return "Y"
}

// wapiPoint is a position in the wapi seed's shape: x latitude, y
// longitude, speed km/h, altitude m, bearing degrees, time Unix ms,
// location [lon, lat].
func wapiPoint(p *pointView) map[string]any {
	return map[string]any{"uid": p.uid, "positionType": p.PositionType, "x": p.Latitude, "y": p.Longitude,
		"speed": num(p.Speed), "altitude": num(p.Altitude), "bearing": num(p.Bearing), "time": p.Created * 1000,
		"location": []float64{p.Longitude, p.Latitude}}
}

func (s *Sim) wapiLatest(w http.ResponseWriter, q *wapiReq) {
	out := []map[string]any{}
	for _, id := range q.UIDs {
		m, ok := s.Member(int64(id))
		if !ok {
			continue
		}
		pts := s.Tracks(m.Num)
		if len(pts) == 0 {
			continue
		}
		e := wapiPoint(&pointView{Point: pts[len(pts)-1], uid: m.ID})
		delete(e, "uid")
		delete(e, "positionType")
		e["id"], e["username"] = m.ID, m.Name
		e["isOnLine"] = nil
		s.mu.Lock()
		if s.online(m.Num) {
			e["isOnLine"] = "2"
		}
		s.mu.Unlock()
		out = append(out, e)
	}
	wapiReply(w, wapiOK, "成功", out)
}

// wapiPlayback serves trackPlayback. The seed's example puts "uid": [...]
// pairs inside a JSON array, which is not JSON; pttsim answers the object
// it evidently means: {"256":[…], "257":[…]}. Times are Unix ms
// (startTimestamp/endTimestamp) or "2006-01-02 15:04:05" local
// (startTime/endTime).
func (s *Sim) wapiPlayback(w http.ResponseWriter, q *wapiReq) {
	from, to := int64(q.StartTimestamp)/1000, int64(q.EndTimestamp)/1000
	if q.StartTime != "" || q.EndTime != "" {
		a, err1 := time.ParseInLocation("2006-01-02 15:04:05", q.StartTime, time.Local)
		b, err2 := time.ParseInLocation("2006-01-02 15:04:05", q.EndTime, time.Local)
		if err1 != nil || err2 != nil {
			wapiReply(w, wapiBadParam, "参数错误: startTime/endTime as 2006-01-02 15:04:05", nil)
			return
		}
		from, to = a.Unix(), b.Unix()
	}
	if to == 0 {
		to = 1 << 40
	}
	out := map[string][]map[string]any{}
	for _, id := range q.UIDs {
		m, ok := s.Member(int64(id))
		if !ok {
			continue
		}
		list := []map[string]any{}
		for _, p := range s.Tracks(m.Num) {
			if p.Created >= from && p.Created <= to {
				list = append(list, wapiPoint(&pointView{Point: p, uid: m.ID}))
			}
		}
		out[strconv.FormatInt(m.ID, 10)] = list
	}
	wapiReply(w, wapiOK, "成功", out)
}

// wapiAudio serves ptt/audioRecord: a GET whose parameters the seed puts in
// the body; query parameters userId, account, size, current work too.
func (s *Sim) wapiAudio(w http.ResponseWriter, r *http.Request, q *wapiReq) {
	qs := r.URL.Query()
	uid, acct := int64(q.UserID), ""
	json.Unmarshal(q.Account, &acct)
	if v := qs.Get("userId"); v != "" {
		uid, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := qs.Get("account"); v != "" {
		acct = v
	}
	size, cur := int(q.Page.Size), int(q.Page.Current)
	if v, err := strconv.Atoi(qs.Get("size")); err == nil {
		size = v
	}
	if v, err := strconv.Atoi(qs.Get("current")); err == nil {
		cur = v
	}
	if size <= 0 || cur <= 0 {
		wapiReply(w, wapiBadParam, "参数错误: page.size > 0 and page.current ≥ 1", nil)
		return
	}
	var match []AudioRecord
	for _, rec := range s.AudioRecords() {
		if (uid == 0 || rec.UserID == uid) && (acct == "" || rec.Account == acct) &&
			(q.Date == 0 || (rec.BeginTime >= int64(q.Date) && rec.BeginTime < int64(q.Date)+86400_000)) {
			match = append(match, rec)
		}
	}
	pages := (len(match) + size - 1) / size
	start := min((cur-1)*size, len(match))
	page := match[start:min(start+size, len(match))]
	if page == nil {
		page = []AudioRecord{}
	}
	wapiReply(w, wapiOK, "", map[string]any{"size": len(page), "total": pages, "records": page})
}

// b01 is the seeds' 0/1 flag.
func b01(v bool) int {
	if v {
		return 1
	}
	return 0
}
