package wapi

import (
	"encoding/json"

	"github.com/pttagent/pttagent/uplink/platform"
)

// The wapi answers (../shared/seeds/003_c6f4417a35eb79cd.txt). The seed
// says every value travels as a string while its examples show numbers:
// platform.Int and platform.Str accept both.

// Envelope wraps every answer: {"status":200,"message":"成功","data":…}.
type Envelope struct {
	Status  platform.Int    `json:"status"`
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
	Token     string       `json:"token"`
	ID        platform.Int `json:"id"`
	Account   platform.Str `json:"account"`
	ExpiresIn platform.Int `json:"expiresIn"` // seconds
}

// UserInfo is data of user/info. State, type and the groups' talkTime,
// callPermission and canSpeak are not in the seed's user/info table (they
// are in user/register, group/create and group/bind): pttsim sends them
// here, and a platform that does not gets the defaults (no talk limit, may
// call and speak).
type UserInfo struct {
	ID       platform.Int  `json:"id"`
	Account  platform.Str  `json:"account"`
	Name     string        `json:"name"`
	Pinyin   string        `json:"pinyin,omitempty"`
	Online   platform.Int  `json:"online"`
	Priority platform.Int  `json:"priority"`
	RoleID   *platform.Int `json:"roleId,omitempty"`
	RoleName string        `json:"roleName,omitempty"`
	State    *platform.Int `json:"state,omitempty"`
	Type     platform.Int  `json:"type"` // 0 terminal, 1 dispatcher
	Groups   []UserGroup   `json:"groups"`
}

type UserGroup struct {
	ID             platform.Int `json:"id"`
	Type           platform.Int `json:"type"`
	Name           string       `json:"name"`
	Pinyin         string       `json:"pinyin,omitempty"`
	Priority       platform.Int `json:"priority"`
	InnerPriority  platform.Int `json:"innerPriority"`
	TalkTime       platform.Int `json:"talkTime,omitempty"`
	CallPermission platform.YN  `json:"callPermission,omitempty"`
	CanSpeak       platform.YN  `json:"canSpeak,omitempty"`
}

// TreeNode is a node of organization/getOrganizationTree2: an org (type 0)
// or a group (type 1) with its users.
type TreeNode struct {
	ID       platform.Int `json:"id"`
	GID      platform.Int `json:"gid"`
	Name     string       `json:"name"`
	Type     platform.Int `json:"type"`
	Users    []TreeUser   `json:"users"`
	Children []TreeNode   `json:"children"`
}

type TreeUser struct {
	GID     platform.Int `json:"gid"`
	UID     platform.Int `json:"uid"`
	Account platform.Str `json:"account"`
	Name    string       `json:"name"`
}

// OrgUserNode is a node of orgUser/tree: an org (type 0) or a user (type 1).
type OrgUserNode struct {
	Type     platform.Int  `json:"type"`
	ID       platform.Str  `json:"id"`
	Account  platform.Str  `json:"account"`
	Name     string        `json:"name"`
	Priority platform.Int  `json:"priority"`
	Children []OrgUserNode `json:"children"`
}
