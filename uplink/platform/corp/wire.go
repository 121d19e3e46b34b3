package corp

import (
	"encoding/json"

	"github.com/pttagent/pttagent/uplink/platform"
)

// The corp API's answers, field for field as in the seed
// (../shared/seeds/000_1038acb6f42a6f0c.txt). Numbers are platform.Int
// because errcode, org_num and friends arrive as numbers or strings.

// Envelope wraps every answer: {"errcode":0,"errmsg":"请求成功","data":{…}}.
type Envelope struct {
	Errcode platform.Int    `json:"errcode"`
	Errmsg  string          `json:"errmsg"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// User is data.user of the logins and user-selfinfo.
type User struct {
	ID          platform.Int `json:"id"`
	Num         platform.Str `json:"num"`
	JobNum      platform.Str `json:"job_num,omitempty"`
	Sex         platform.Int `json:"sex"`
	Name        string       `json:"name"`
	BindPhone   platform.Str `json:"bind_phone,omitempty"`
	CountryCode platform.Str `json:"country_code,omitempty"`
	Avatar      string       `json:"avatar"`
}

// Account is data.account of the logins.
type Account struct {
	UserName    platform.Str `json:"user_name"`
	CountryCode platform.Str `json:"country_code"`
	Password    string       `json:"password"`
}

// Org is data.org of the logins and data.corp of org-my-org.
type Org struct {
	Num        platform.Int `json:"num"`
	Name       string       `json:"name"`
	Avatar     string       `json:"avatar"`
	Intro      string       `json:"intro,omitempty"`
	Creator    *User        `json:"creator,omitempty"`
	Created    platform.Int `json:"created"`
	MemberCnt  platform.Int `json:"member_cnt"`
	GroupCnt   platform.Int `json:"group_cnt"`
	GroupVer   platform.Int `json:"group_ver"`
	AddressVer platform.Int `json:"address_ver"`
	DeviceCnt  platform.Int `json:"device_cnt"`
	DeviceVer  platform.Int `json:"device_ver"`
}

// Login is data of login, login-by-name and login-by-phone.
type Login struct {
	User         User         `json:"user"`
	Account      Account      `json:"account"`
	Org          Org          `json:"org"`
	AccessToken  string       `json:"access_token"`
	ExpiresIn    platform.Int `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
}

// Refresh is data of /v1/sessions/refresh.
type Refresh struct {
	AccessToken  string       `json:"access_token"`
	ExpiresIn    platform.Int `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
}

// Member is an org member as get-address-list, member-getall and the
// member-* management calls return it. track: 0 off, 1 high, 2 medium,
// 3 low, 4 reserved, other = seconds. state: 0 enabled, 1 paused. type: 0
// user, 1 device, 255 org owner.
type Member struct {
	UserID      platform.Int  `json:"user_id"`
	OrgNum      *platform.Int `json:"org_num,omitempty"`
	UserNum     platform.Str  `json:"user_num"`
	JobNum      platform.Str  `json:"job_num"`
	Sex         platform.Int  `json:"sex"`
	Name        string        `json:"name"`
	Avatar      string        `json:"avatar"`
	DeptID      platform.Int  `json:"dept_id"`
	CountryCode platform.Str  `json:"country_code"`
	Phone       platform.Str  `json:"phone"`
	Type        platform.Int  `json:"type"`
	TTS         platform.Int  `json:"tts"`
	LocShare    platform.Int  `json:"loc_share"`
	Track       platform.Int  `json:"track"`
	State       platform.Int  `json:"state"`
	Created     platform.Int  `json:"created"`
	Online      *platform.Int `json:"online,omitempty"`
	DeptName    *string       `json:"dept_name,omitempty"`
}

// AddressList is data.address_list of get-address-list.
type AddressList struct {
	Version platform.Int `json:"version"`
	Members []Member     `json:"members"`
	Depts   []struct {
		ID      platform.Int `json:"id"`
		Name    string       `json:"name"`
		Members []Member     `json:"members"`
	} `json:"depts"`
}

// Group is a group as group-getall returns it, and as events carry it.
type Group struct {
	ID            platform.Int  `json:"id"`
	Name          string        `json:"name"`
	Avatar        string        `json:"avatar"`
	Creator       platform.Int  `json:"creator"`
	Type          platform.Int  `json:"type"`
	UserCount     platform.Int  `json:"user_count"`
	MemberVersion platform.Int  `json:"member_version"`
	BurstMode     platform.Int  `json:"burst_mode"`
	Shutup        platform.Int  `json:"shutup"`
	Created       platform.Int  `json:"created"`
	OrgNum        *platform.Int `json:"org_num,omitempty"`
}

// GroupMember is an entry of group-member-getall (and of the other
// group-member-* answers): a member, plus its in-group "prority" (sic),
// tts and loc_share.
type GroupMember struct {
	Member
	Prority *platform.Int `json:"prority,omitempty"`
}
