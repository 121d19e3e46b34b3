package wapi

import (
	"encoding/json"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// The wapi answers (../shared/seeds/003_c6f4417a35eb79cd.txt). The seed
// says every value travels as a string while its examples show numbers:
// httpapi.Int and httpapi.Str accept both.

// Envelope wraps every answer: {"status":200,"message":"成功","data":…}.
type Envelope struct {
	Status  httpapi.Int     `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Status codes of the seed's table that the client acts on.
const (
	StatusOK          = 200
	StatusNotLoggedIn = 501 // the token is unknown or expired: log in again
)

// LoginRequest and LoginData are POST /wapi/user/login, which the seed
// does not document (its API is called with a token obtained elsewhere).
// pttsim serves it; docs/protocol.md states the assumption.
type LoginRequest struct {
	Account  string `json:"account"`
	Password string `json:"password"` // hex MD5, as corp
}

type LoginData struct {
	Token     string      `json:"token"`
	ID        httpapi.Int `json:"id"`
	Account   httpapi.Str `json:"account"`
	ExpiresIn httpapi.Int `json:"expiresIn"` // seconds
}

// UserInfo is data of user/info. State, type and the groups' talkTime,
// callPermission and canSpeak are not in the seed's user/info table (they
// are in user/register, group/create and group/bind): pttsim sends them
// here, and a platform that does not gets the defaults (no talk limit, may
// call and speak).
type UserInfo struct {
	ID       httpapi.Int  `json:"id"`
	Account  httpapi.Str  `json:"account"`
	Name     string       `json:"name"`
	Pinyin   string       `json:"pinyin,omitempty"`
	Online   httpapi.Int  `json:"online"`
	Priority httpapi.Int  `json:"priority"`
	RoleID   *httpapi.Int `json:"roleId,omitempty"`
	RoleName string       `json:"roleName,omitempty"`
	State    *httpapi.Int `json:"state,omitempty"`
	Type     httpapi.Int  `json:"type"` // 0 terminal, 1 dispatcher
	Groups   []UserGroup  `json:"groups"`
	// DeviceID and DeviceState are the terminal this user holds or last
	// held (device/bind: 0 idle — taken back —, 1 assigned, 2 repair).
	// Not in the seed, which has no read of device/bind: pttsim sends
	// them; without them the handset does not restrict.
	DeviceID    httpapi.Int  `json:"deviceId,omitempty"`
	DeviceState *httpapi.Int `json:"deviceState,omitempty"`
}

type UserGroup struct {
	ID             httpapi.Int `json:"id"`
	Type           httpapi.Int `json:"type"`
	Name           string      `json:"name"`
	Pinyin         string      `json:"pinyin,omitempty"`
	Priority       httpapi.Int `json:"priority"`
	InnerPriority  httpapi.Int `json:"innerPriority"`
	TalkTime       httpapi.Int `json:"talkTime,omitempty"`
	CallPermission httpapi.YN  `json:"callPermission,omitempty"`
	CanSpeak       httpapi.YN  `json:"canSpeak,omitempty"`
}

// TreeNode is a node of organization/getOrganizationTree2: an org (type 0)
// or a group (type 1) with its users.
type TreeNode struct {
	ID       httpapi.Int `json:"id"`
	GID      httpapi.Int `json:"gid"`
	Name     string      `json:"name"`
	Type     httpapi.Int `json:"type"`
	Users    []TreeUser  `json:"users"`
	Children []TreeNode  `json:"children"`
}

type TreeUser struct {
	GID     httpapi.Int `json:"gid"`
	UID     httpapi.Int `json:"uid"`
	Account httpapi.Str `json:"account"`
	Name    string      `json:"name"`
}

// OrgUserNode is a node of orgUser/tree: an org (type 0) or a user (type 1).
type OrgUserNode struct {
	Type     httpapi.Int   `json:"type"`
	ID       httpapi.Str   `json:"id"`
	Account  httpapi.Str   `json:"account"`
	Name     string        `json:"name"`
	Priority httpapi.Int   `json:"priority"`
	Children []OrgUserNode `json:"children"`
}
