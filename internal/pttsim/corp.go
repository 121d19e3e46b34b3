package pttsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// The corp web API (/v1/corp/web/{op}): handleCorp reads the request and
// checks the access token; corpOps names the handler of each operation.
// Handlers build their answer under s.mu and write it after letting go,
// so that a slow client never holds up the simulator.

// Corp errcodes. The seed shows "105" (as a string) "账号或密码错误" as
// the error of every call: a wrong account or password at login, and a
// refused access token on every token-authenticated call (and so on a
// refused refresh). The others are the simulator's, also sent as strings
// so that clients meet the seed's string errcode on every failure.
const (
	codeRefused    = "105"
	msgRefused     = "账号或密码错误"
	codeBadRequest = "100"
	codeNoMember   = "110"
	codeNoGroup    = "120"
	codeExists     = "108"
)

// corpCall is one corp request, read and authorised.
type corpCall struct {
	op  string
	q   corpReq
	uid int64 // the caller; 0 for a login
	r   *http.Request
}

// corpOp is how one operation is served.
type corpOp struct {
	serve func(s *Sim, w http.ResponseWriter, c *corpCall)
	login bool // answered without an access token
	// upload: the body is a multipart file, read by the handler, not JSON.
	upload bool
}

var corpOps = map[string]corpOp{
	"login-by-name":  {serve: (*Sim).corpLoginByName, login: true},
	"login":          {serve: (*Sim).corpLoginByAccount, login: true},
	"login-by-phone": {serve: (*Sim).corpLoginByPhone, login: true},
	"user-selfinfo":  {serve: (*Sim).corpSelfInfo},
	"org-my-org":     {serve: (*Sim).corpMyOrg},

	"get-address-list":    {serve: (*Sim).corpAddressList},
	"member-getall":       {serve: (*Sim).corpMemberGetAll},
	"member-create":       {serve: (*Sim).corpMemberCreate},
	"member-add-device":   {serve: (*Sim).corpMemberCreate},
	"member-change":       {serve: (*Sim).corpMemberChange},
	"member-change-state": {serve: (*Sim).corpMemberChangeState},
	"member-delete":       {serve: (*Sim).corpMemberDelete},
	"dept-create":         {serve: (*Sim).corpDeptCreate},
	"dept-change":         {serve: (*Sim).corpDeptChange},
	"dept-delete":         {serve: (*Sim).corpDeptDelete},
	"dept-getall":         {serve: (*Sim).corpDeptGetAll},
	"dept-member-getall":  {serve: (*Sim).corpDeptMemberGetAll},

	"group-create":        {serve: (*Sim).corpGroupCreate},
	"group-change":        {serve: (*Sim).corpGroupChange},
	"group-delete":        {serve: (*Sim).corpGroupDelete},
	"group-getall":        {serve: (*Sim).corpGroupGetAll},
	"group-member-add":    {serve: (*Sim).corpGroupMemberAdd},
	"group-member-change": {serve: (*Sim).corpGroupMemberChange},
	"group-member-delete": {serve: (*Sim).corpGroupMemberDelete},
	"group-member-getall": {serve: (*Sim).corpGroupMemberGetAll},

	"location-get-track":                {serve: (*Sim).corpTrack},
	"message-get-group-history-message": {serve: (*Sim).corpHistory},
	"message-send-group-message":        {serve: (*Sim).corpSendMessage},
	"file-upload":                       {serve: (*Sim).corpUpload, upload: true},
	"avatar-upload":                     {serve: (*Sim).corpUpload, upload: true},
}

// handleCorp serves POST /v1/corp/web/{op}. The order of the checks is the
// protocol's: a body that is not JSON is refused before the token, and an
// unknown operation is only told apart from a bad token once logged in.
func (s *Sim) handleCorp(w http.ResponseWriter, r *http.Request) {
	c := &corpCall{op: r.PathValue("op"), r: r}
	h, known := corpOps[c.op]
	if !h.upload {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil && len(strings.TrimSpace(string(body))) > 0 {
			err = json.Unmarshal(body, &c.q)
		}
		if err != nil {
			corpFail(w, codeBadRequest, "参数错误: "+err.Error())
			return
		}
	}
	if !h.login {
		ss := s.corpAuth(w, r)
		if ss == nil {
			return
		}
		c.uid = ss.uid
	}
	if !known {
		w.WriteHeader(http.StatusNotFound)
		corpFail(w, "404", "pttsim does not serve "+c.op)
		return
	}
	h.serve(s, w, c)
}

// corpAuth returns the caller's session, or answers with the token error.
func (s *Sim) corpAuth(w http.ResponseWriter, r *http.Request) *session {
	tok := r.URL.Query().Get("access-token")
	ss := locked(s, func(*world) *session {
		ss := s.sessions[tok]
		if ss == nil || !s.now().Before(ss.expires) {
			s.stats.TokenRefused++
			return nil
		}
		return ss
	})
	if ss == nil {
		corpFail(w, codeRefused, msgRefused)
	}
	return ss
}

// locked runs f on the world under s.mu and returns what it built.
func locked[T any](s *Sim, f func(w *world) T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.w)
}

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

// corpReply answers data, or the error.
func corpReply(w http.ResponseWriter, data any, err error) {
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, data)
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

// memberIDs is member_ids as ids.
func (q *corpReq) memberIDs() []int64 {
	var uids []int64
	for _, id := range q.MemberIDs {
		uids = append(uids, int64(id))
	}
	return uids
}

// setNum and setStr copy an optional field of the request onto dst when
// it was sent.
func setNum[T ~int | ~int64](dst *T, v *httpapi.Int) {
	if v != nil {
		*dst = T(*v)
	}
}

func setStr(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}
