// Package wapi is the client of the wapi platform (/wapi/…, token header,
// envelope {"status","message","data"}). Seed 003 calls every endpoint
// with a token the platform issued and has no login call: the client uses
// Token, and logs in through POST /wapi/user/login (pttsim's) only when
// Login is set. Status 501 means "not logged in": the client logs in again
// (with Login) or reports the refused token; transient
// failures are retried by the shared transport. The member, its groups and
// its rights come from user/info, group members from
// organization/getOrganizationTree2. The seed has no version counters, so
// every fetch reads both.
package wapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/wire"
)

// APIError is an answer whose status is not 200.
type APIError struct {
	Op     string
	Status int64
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("platform %s: status %d: %s", e.Op, e.Status, e.Msg)
}

// ErrNotLoggedIn is wrapped by errors that mean the token was refused.
var ErrNotLoggedIn = errors.New("not logged in (status 501)")

// Client talks to one wapi platform as one member.
type Client struct {
	HTTP    *httpapi.HTTP
	Account string
	// Token is the token the platform's operator issued (platform_token):
	// used as it is; a 501 is reported, not repaired.
	Token string
	// Login, with Password (hex MD5), logs in through POST
	// /wapi/user/login instead (platform.wapi_login: user-login), which
	// seed 003 does not have: a platform without it answers 404.
	Login    bool
	Password string
	Logger   *slog.Logger
	Now      func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	life    time.Duration
	userID  int64
	stats   Stats
}

// Stats count the session's history.
type Stats struct {
	Logins       int
	TokenRefused int
	Requests     int
}

var _ platform.Client = (*Client)(nil)

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Stats returns a snapshot.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, token string, body, out any) error {
	c.mu.Lock()
	c.stats.Requests++
	c.mu.Unlock()
	h := http.Header{}
	if token != "" {
		h.Set("token", token)
	}
	data, err := c.HTTP.Do(ctx, httpapi.Request{Method: method, Path: path, Query: q, Header: h, Body: body})
	if err != nil {
		if errors.Is(err, httpapi.ErrUnauthorized) {
			return fmt.Errorf("%w: %w", ErrNotLoggedIn, err)
		}
		return err
	}
	var env Envelope
	if err := httpapi.DecodeJSON(path, data, &env); err != nil {
		return err
	}
	switch env.Status {
	case StatusOK:
	case StatusNotLoggedIn:
		return fmt.Errorf("%w: %w", ErrNotLoggedIn, &APIError{Op: path, Status: int64(env.Status), Msg: env.Message})
	default:
		return &APIError{Op: path, Status: int64(env.Status), Msg: env.Message}
	}
	if out == nil {
		return nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return &httpapi.Malformed{Op: path, Err: errors.New("no data"), Body: data}
	}
	return httpapi.DecodeJSON(path, env.Data, out)
}

// call makes an authenticated call; a 501 gets one new login and retry.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	for try := 0; ; try++ {
		tok, err := c.ensureToken(ctx)
		if err != nil {
			return err
		}
		err = c.do(ctx, method, path, q, tok, body, out)
		if errors.Is(err, ErrNotLoggedIn) {
			c.mu.Lock()
			c.stats.TokenRefused++
			if c.token == tok {
				c.token = ""
			}
			c.mu.Unlock()
			if !c.Login {
				return fmt.Errorf("%w (the platform refused platform_token: install the new token its operator issues for %s in the secrets file)", err, c.Account)
			}
			if try == 0 {
				c.log().Info("platform says not logged in; logging in again", "op", path)
				continue
			}
		}
		return err
	}
}

// ErrNoLoginCall is wrapped by the error of a /wapi/user/login the
// platform does not serve.
var ErrNoLoginCall = errors.New("the platform has no POST /wapi/user/login (seed 003 has none)")

func (c *Client) ensureToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, expires, life := c.token, c.expires, c.life
	if tok == "" && !c.Login {
		tok, c.token = c.Token, c.Token
	}
	c.mu.Unlock()
	if !c.Login {
		if tok == "" {
			return "", errors.New("platform: no platform_token in the secrets file: a wapi handset uses the token the platform's operator issued (seed 003 has no login call)")
		}
		return tok, nil
	}
	if c.Password == "" {
		return "", errors.New("platform: platform.wapi_login is user-login but there is no platform_password in the secrets file")
	}
	// The wapi seed has no refresh: log in again in the token's last fifth.
	if tok != "" && (life == 0 || c.now().Before(expires.Add(-min(life/5, 10*time.Minute)))) {
		return tok, nil
	}
	var l LoginData
	if err := c.do(ctx, http.MethodPost, "/wapi/user/login", nil, "", LoginRequest{Account: c.Account, Password: c.Password}, &l); err != nil {
		var pe *httpapi.Error
		if errors.As(err, &pe) && (pe.Status == http.StatusNotFound || pe.Status == http.StatusMethodNotAllowed) {
			return "", fmt.Errorf("log in as %s: %w: put the token the platform's operator issued in platform_token "+
				"(secrets file) and set platform.wapi_login: token: %w", c.Account, ErrNoLoginCall, err)
		}
		return "", fmt.Errorf("log in as %s: %w", c.Account, err)
	}
	if l.Token == "" {
		return "", &httpapi.Malformed{Op: "/wapi/user/login", Err: errors.New("no token")}
	}
	c.mu.Lock()
	c.token, c.life = l.Token, time.Duration(l.ExpiresIn)*time.Second
	c.expires = c.now().Add(c.life)
	if l.ID > 0 {
		c.userID = int64(l.ID)
	}
	c.stats.Logins++
	c.mu.Unlock()
	c.log().Info("logged in to the platform", "account", c.Account, "user_id", int64(l.ID), "expires_in", c.life)
	return l.Token, nil
}

// whoAmI finds this account's user id in orgUser/tree when the login did
// not say it (fixed token).
func (c *Client) whoAmI(ctx context.Context) (int64, error) {
	c.mu.Lock()
	id := c.userID
	c.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	var roots []OrgUserNode
	if err := c.call(ctx, http.MethodPost, "/wapi/orgUser/tree", nil, struct{}{}, &roots); err != nil {
		return 0, err
	}
	var walk func([]OrgUserNode) int64
	walk = func(ns []OrgUserNode) int64 {
		for _, n := range ns {
			if n.Type == 1 && string(n.Account) == c.Account {
				v, _ := strconv.ParseInt(string(n.ID), 10, 64)
				return v
			}
			if v := walk(n.Children); v != 0 {
				return v
			}
		}
		return 0
	}
	if id = walk(roots); id <= 0 {
		err := fmt.Errorf("account %s not found", c.Account)
		if !hasUsers(roots, 0) {
			// A tree without any user is a broken answer, not a deletion.
			return 0, &httpapi.Malformed{Op: "/wapi/orgUser/tree", Err: err}
		}
		return 0, &platform.GoneError{State: platform.StateDeleted, Op: "/wapi/orgUser/tree", Err: err}
	}
	c.mu.Lock()
	c.userID = id
	c.mu.Unlock()
	return id, nil
}

// hasUsers reports whether the tree lists any user.
func hasUsers(ns []OrgUserNode, depth int) bool {
	for _, n := range ns {
		if n.Type == 1 || (depth < 64 && hasUsers(n.Children, depth+1)) {
			return true
		}
	}
	return false
}

func wapiState(v *httpapi.Int) platform.State {
	if v == nil {
		return platform.StateEnabled // not sent: the platform does not restrict
	}
	switch *v {
	case 0:
		return platform.StateInactive
	case 1:
		return platform.StateEnabled
	case 2:
		return platform.StatePaused
	case 3:
		return platform.StateDisabled
	case 4:
		return platform.StateStunned
	case 5:
		return platform.StateKilled
	}
	return platform.StateUnknown
}

// Fetch implements platform.Client.
func (c *Client) Fetch(ctx context.Context, prev *platform.Model) (*platform.Model, error) {
	if _, err := c.ensureToken(ctx); err != nil {
		return nil, err
	}
	uid, err := c.whoAmI(ctx)
	if err != nil {
		return nil, err
	}
	var ui UserInfo
	if err := c.call(ctx, http.MethodPost, "/wapi/user/info", url.Values{"id": {strconv.FormatInt(uid, 10)}},
		map[string]int64{"id": uid}, &ui); err != nil {
		if g := gone(err); g != nil {
			// Looked up again next time: a user registered again has a new id.
			c.mu.Lock()
			c.userID = 0
			c.mu.Unlock()
			return nil, g
		}
		return nil, err
	}
	if int64(ui.ID) != uid {
		return nil, &httpapi.Malformed{Op: "/wapi/user/info", Err: fmt.Errorf("user id %d, asked for %d", ui.ID, uid)}
	}
	var tree TreeNode
	if err := c.call(ctx, http.MethodGet, "/wapi/organization/getOrganizationTree2", nil, nil, &tree); err != nil {
		return nil, err
	}
	members := map[int64][]platform.Member{}
	var walk func(n *TreeNode, depth int)
	walk = func(n *TreeNode, depth int) {
		if depth > 64 {
			return
		}
		if n.Type == 1 {
			gid := int64(n.GID)
			for _, u := range n.Users {
				members[gid] = append(members[gid], platform.Member{ID: int64(u.UID), Account: string(u.Account), Name: u.Name})
			}
		}
		for i := range n.Children {
			walk(&n.Children[i], depth+1)
		}
	}
	walk(&tree, 0)

	next := &platform.Model{Dialect: "wapi", Account: c.Account, Fetched: c.now()}
	next.Self = platform.Self{ID: uid, Account: string(ui.Account), Name: ui.Name, State: wapiState(ui.State),
		Priority: int(ui.Priority), Admin: ui.Type == 1, Device: deviceState(ui.DeviceState)}
	for _, g := range ui.Groups {
		pg := platform.Group{ID: int64(g.ID), Name: g.Name, Type: int(g.Type), Priority: int(g.Priority),
			TalkLimit: time.Duration(g.TalkTime) * time.Second,
			My:        platform.Permissions{Call: g.CallPermission.Yes(), Speak: g.CanSpeak.Yes(), Priority: int(g.InnerPriority)},
			Members:   members[int64(g.ID)]}
		next.Groups = append(next.Groups, pg)
	}
	next.Normalize()
	if err := next.Check(); err != nil {
		return nil, err
	}
	return next, nil
}

// Apply implements platform.Client. The wapi events name what changed
// (ids), not how, so every event that may concern this member is a fetch;
// one that deletes this user is believed at once (the handset stops now)
// and checked by that fetch, which restores the member if it is still
// there.
func (c *Client) Apply(m *platform.Model, ev wire.Event) (*platform.Model, bool, error) {
	if ev.MsgType != wire.EventWapiUserDelete || m == nil {
		return m, true, nil
	}
	ids, err := wire.DecodeWapiIDs(ev.Content)
	if err != nil {
		return m, true, err
	}
	for _, id := range ids {
		if id == m.Self.ID {
			next := m.Clone()
			next.Self.State = platform.StateDeleted
			return next, true, nil
		}
	}
	return m, true, nil
}

// The seed's status codes that say the user is gone.
const (
	statusNoUser      = 517 // 用户不存在
	statusNotActive   = 541 // 用户未激活
	statusUserExpired = 545 // 用户已失效
)

// gone turns a user/info answer that says the user is gone into a
// GoneError.
func gone(err error) *platform.GoneError {
	var api *APIError
	if !errors.As(err, &api) {
		return nil
	}
	st := map[int64]platform.State{statusNoUser: platform.StateDeleted, statusNotActive: platform.StateInactive,
		statusUserExpired: platform.StateExpired}[api.Status]
	if st == "" {
		return nil
	}
	return &platform.GoneError{State: st, Op: api.Op, Err: api}
}

// deviceState reads user/info's deviceState (pttsim's addition: the seed
// has no read of device/bind), in device/bind's numbering.
func deviceState(v *httpapi.Int) platform.DeviceState {
	if v == nil {
		return ""
	}
	switch *v {
	case 0:
		return platform.DeviceUnbound
	case 1:
		return platform.DeviceAssigned
	case 2:
		return platform.DeviceRepair
	}
	return ""
}
