package pttsim

import (
	"net/http"
	"strings"
	"time"
)

// The corp logins (by account name, by account or phone, by phone) and
// what a logged-in client asks first: who it is and which org.

func (s *Sim) corpLoginByName(w http.ResponseWriter, c *corpCall) {
	s.corpLogin(w, c.q.Password, func(wd *world) *Member { return wd.byNum(c.q.UserName) })
}

func (s *Sim) corpLoginByAccount(w http.ResponseWriter, c *corpCall) {
	s.corpLogin(w, c.q.Password, func(wd *world) *Member {
		if m := wd.byNum(c.q.Account); m != nil {
			return m
		}
		return wd.byPhone(c.q.Account)
	})
}

func (s *Sim) corpLoginByPhone(w http.ResponseWriter, c *corpCall) {
	s.corpLogin(w, c.q.Password, func(wd *world) *Member { return wd.byPhone(c.q.Phone) })
}

// corpLogin opens a session for the member find returns when password (an
// MD5, in either case) is theirs. find runs under s.mu.
func (s *Sim) corpLogin(w http.ResponseWriter, password string, find func(*world) *Member) {
	data := locked(s, func(wd *world) map[string]any {
		m := find(wd)
		if m == nil || m.Password != strings.ToLower(password) {
			return nil
		}
		now := s.now()
		ss := &session{uid: m.ID, token: newToken(), refresh: newToken(), expires: now.Add(s.o.TokenTTL), rexpires: now.Add(s.o.RefreshTTL)}
		s.sessions[ss.token], s.refresh[ss.refresh] = ss, ss
		s.stats.Logins++
		user := map[string]any{"id": m.ID, "num": m.Num, "job_num": m.JobNum, "sex": m.Sex, "name": m.Name,
			"bind_phone": m.Phone, "country_code": "86", "avatar": m.Avatar}
		return map[string]any{"user": user,
			"account":      map[string]any{"user_name": m.Num, "country_code": "0", "password": newToken()},
			"org":          corpOrg(wd),
			"access_token": ss.token, "expires_in": int64(s.o.TokenTTL / time.Second), "refresh_token": ss.refresh}
	})
	if data == nil {
		corpFail(w, codeRefused, msgRefused)
		return
	}
	corpOK(w, data)
}

func (s *Sim) corpSelfInfo(w http.ResponseWriter, c *corpCall) {
	m, ok := s.Member(c.uid)
	if !ok {
		corpErr(w, ErrNoMember)
		return
	}
	corpOK(w, map[string]any{"user": map[string]any{"id": m.ID, "num": m.Num, "sex": m.Sex, "name": m.Name,
		"bind_phone": m.Phone, "country_code": "86", "avatar": m.Avatar}})
}

func (s *Sim) corpMyOrg(w http.ResponseWriter, _ *corpCall) {
	corpOK(w, map[string]any{"corp": locked(s, corpOrg)})
}

func corpOrg(w *world) map[string]any {
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
