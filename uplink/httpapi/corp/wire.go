package corp

import (
	"encoding/json"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// The corp API's answers, field for field as in the seed
// (../shared/seeds/000_1038acb6f42a6f0c.txt). Numbers are httpapi.Int
// because errcode, org_num and friends arrive as numbers or strings.

// Envelope wraps every answer: {"errcode":0,"errmsg":"请求成功","data":{…}}.
type Envelope struct {
	Errcode httpapi.Int     `json:"errcode"`
	Errmsg  string          `json:"errmsg"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// User is data.user of the logins and user-selfinfo.
type User struct {
	ID          httpapi.Int `json:"id"`
	Num         httpapi.Str `json:"num"`
	JobNum      httpapi.Str `json:"job_num,omitempty"`
	Sex         httpapi.Int `json:"sex"`
	Name        string      `json:"name"`
	BindPhone   httpapi.Str `json:"bind_phone,omitempty"`
	CountryCode httpapi.Str `json:"country_code,omitempty"`
	Avatar      string      `json:"avatar"`
}

// Account is data.account of the logins.
type Account struct {
	UserName    httpapi.Str `json:"user_name"`
	CountryCode httpapi.Str `json:"country_code"`
	Password    string      `json:"password"`
}

// Org is data.org of the logins and data.corp of org-my-org.
type Org struct {
	Num        httpapi.Int `json:"num"`
	Name       string      `json:"name"`
	Avatar     string      `json:"avatar"`
	Intro      string      `json:"intro,omitempty"`
	Creator    *User       `json:"creator,omitempty"`
	Created    httpapi.Int `json:"created"`
	MemberCnt  httpapi.Int `json:"member_cnt"`
	GroupCnt   httpapi.Int `json:"group_cnt"`
	GroupVer   httpapi.Int `json:"group_ver"`
	AddressVer httpapi.Int `json:"address_ver"`
	DeviceCnt  httpapi.Int `json:"device_cnt"`
	DeviceVer  httpapi.Int `json:"device_ver"`
}

// Login is data of login, login-by-name and login-by-phone.
type Login struct {
	User         User        `json:"user"`
	Account      Account     `json:"account"`
	Org          Org         `json:"org"`
	AccessToken  string      `json:"access_token"`
	ExpiresIn    httpapi.Int `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
}

// Refresh is data of /v1/sessions/refresh.
type Refresh struct {
	AccessToken  string      `json:"access_token"`
	ExpiresIn    httpapi.Int `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
}

// Member is an org member as get-address-list, member-getall and the
// member-* management calls return it. track: 0 off, 1 high, 2 medium,
// 3 low, 4 reserved, other = seconds. state: 0 enabled, 1 paused. type: 0
// user, 1 device, 255 org owner.
type Member struct {
	UserID      httpapi.Int  `json:"user_id"`
	OrgNum      *httpapi.Int `json:"org_num,omitempty"`
	UserNum     httpapi.Str  `json:"user_num"`
	JobNum      httpapi.Str  `json:"job_num"`
	Sex         httpapi.Int  `json:"sex"`
	Name        string       `json:"name"`
	Avatar      string       `json:"avatar"`
	DeptID      httpapi.Int  `json:"dept_id"`
	CountryCode httpapi.Str  `json:"country_code"`
	Phone       httpapi.Str  `json:"phone"`
	Type        httpapi.Int  `json:"type"`
	TTS         httpapi.Int  `json:"tts"`
	LocShare    httpapi.Int  `json:"loc_share"`
	Track       httpapi.Int  `json:"track"`
	State       httpapi.Int  `json:"state"`
	Created     httpapi.Int  `json:"created"`
	Online      *httpapi.Int `json:"online,omitempty"`
	DeptName    *string      `json:"dept_name,omitempty"`
}

// AddressList is data.address_list of get-address-list.
type AddressList struct {
	Version httpapi.Int `json:"version"`
	Members []Member    `json:"members"`
	Depts   []struct {
		ID      httpapi.Int `json:"id"`
		Name    string      `json:"name"`
		Members []Member    `json:"members"`
	} `json:"depts"`
}

// Group is a group as group-getall returns it, and as events carry it.
type Group struct {
	ID            httpapi.Int  `json:"id"`
	Name          string       `json:"name"`
	Avatar        string       `json:"avatar"`
	Creator       httpapi.Int  `json:"creator"`
	Type          httpapi.Int  `json:"type"`
	UserCount     httpapi.Int  `json:"user_count"`
	MemberVersion httpapi.Int  `json:"member_version"`
	BurstMode     httpapi.Int  `json:"burst_mode"`
	Shutup        httpapi.Int  `json:"shutup"`
	Created       httpapi.Int  `json:"created"`
	OrgNum        *httpapi.Int `json:"org_num,omitempty"`
}

// GroupMember is an entry of group-member-getall (and of the other
// group-member-* answers): a member, plus its in-group "prority" (sic),
// tts and loc_share.
type GroupMember struct {
	Member
	Prority *httpapi.Int `json:"prority,omitempty"`
}
