// Package corp is the client of the corp web API (/v1/corp/web/…,
// ?access-token=…, envelope {"errcode","errmsg","data"}). It logs in with
// the device account and an MD5 password hash, refreshes the access token
// before it expires, logs in again when the refresh is refused, and turns
// the org's address list, groups and group members into a platform.Model,
// fetching only what the org's versions say changed.
package corp

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
)

// Login methods.
const (
	LoginByName    = "name"    // login-by-name {"user_name"}
	LoginByAccount = "account" // login {"account"}: account or phone
)

// HashPassword is the seed's password form: hex MD5 of the plain text.
func HashPassword(plain string) string {
	sum := md5.Sum([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// Client talks to one corp platform as one member.
type Client struct {
	HTTP     *httpapi.HTTP
	Account  string
	Password string // MD5 hex (HashPassword)
	Method   string // LoginByName (default) or LoginByAccount
	Logger   *slog.Logger
	Now      func() time.Time

	mu      sync.Mutex
	token   string
	refresh string
	expires time.Time
	life    time.Duration
	userID  int64
	orgNum  int64
	// notIn remembers groups this member is not in, at their
	// member_version, so that an org change does not refetch them all.
	notIn map[int64]int64
	stats Stats

	// renewMu makes one caller at a time refresh or log in; the others
	// then use its token.
	renewMu sync.Mutex
	// failures counts refused calls and failed logins since the platform
	// last accepted a call; from the second on, renewAt holds back the
	// next refresh or login (backoff), so that a platform that refuses
	// every token gets no login storm.
	failures int
	renewAt  time.Time
	lastErr  error
	// notRefusal holds the errcodes that came back the same with a fresh
	// token: whatever they mean, it is not "token refused".
	notRefusal map[int64]bool
	// unlisted counts address lists in a row that listed others but not
	// this member (notListed).
	unlisted int
}

// Stats count the session's history, for status and tests.
type Stats struct {
	Logins         int
	Refreshes      int
	RefreshRefused int
	TokenRefused   int // authenticated calls answered with a refusal
	HeldBack       int // renewals not tried because of the backoff
	Requests       int
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

// Fetch implements platform.Client.
func (c *Client) Fetch(ctx context.Context, prev *platform.Model) (*platform.Model, error) {
	if _, err := c.ensureToken(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	uid, org := c.userID, c.orgNum
	if prev == nil {
		// A full fetch trusts nothing remembered: a platform may add this
		// member to a group without moving the group's member_version.
		c.notIn = nil
	}
	c.mu.Unlock()

	var my struct {
		Corp Org `json:"corp"`
	}
	if err := c.call(ctx, "/v1/corp/web/org-my-org", nil, &my); err != nil {
		return nil, err
	}
	if my.Corp.Num > 0 {
		org = int64(my.Corp.Num)
	}
	next := prev.Clone()
	if next == nil || next.Self.ID != uid || next.Dialect != "corp" {
		next = &platform.Model{Dialect: "corp", Account: c.Account}
	}
	next.Account = c.Account

	if next.Self.ID == 0 {
		var si struct {
			User User `json:"user"`
		}
		if err := c.call(ctx, "/v1/corp/web/user-selfinfo", nil, &si); err != nil {
			return nil, err
		}
		if int64(si.User.ID) != uid {
			return nil, &httpapi.Malformed{Op: "/v1/corp/web/user-selfinfo", Err: fmt.Errorf("user id %d, logged in as %d", si.User.ID, uid)}
		}
		next.Self.ID, next.Self.Account, next.Self.Name = uid, string(si.User.Num), si.User.Name
	}

	if av := int64(my.Corp.AddressVer); av == 0 || av != next.Versions.Address || !next.Self.HasSettings {
		var al struct {
			AddressList AddressList `json:"address_list"`
		}
		if err := c.call(ctx, "/v1/corp/web/get-address-list", map[string]int64{"org_num": org}, &al); err != nil {
			return nil, err
		}
		self := findMember(&al.AddressList, uid)
		if self == nil {
			return nil, c.notListed(&al.AddressList, uid, org)
		}
		c.mu.Lock()
		c.unlisted = 0
		c.mu.Unlock()
		setSelf(&next.Self, self)
		next.Versions.Address = av
	}

	if gv := int64(my.Corp.GroupVer); gv == 0 || gv != next.Versions.Group {
		if err := c.fetchGroups(ctx, org, next); err != nil {
			return nil, err
		}
		next.Versions.Group = gv
	}
	next.Fetched = c.now()
	next.Normalize()
	if err := next.Check(); err != nil {
		return nil, err
	}
	return next, nil
}

func findMember(al *AddressList, uid int64) *Member {
	for i := range al.Members {
		if int64(al.Members[i].UserID) == uid {
			return &al.Members[i]
		}
	}
	for _, d := range al.Depts {
		for i := range d.Members {
			if int64(d.Members[i].UserID) == uid {
				return &d.Members[i]
			}
		}
	}
	return nil
}

func setSelf(s *platform.Self, m *Member) {
	s.ID = int64(m.UserID)
	if m.UserNum != "" {
		s.Account = string(m.UserNum)
	}
	if m.Name != "" {
		s.Name = m.Name
	}
	s.State = state(m.State)
	s.Admin = m.Type == 255
	s.HasSettings = true
	s.TTS, s.LocShare, s.Track = m.TTS != 0, m.LocShare != 0, int(m.Track)
}

func state(v httpapi.Int) platform.State {
	switch v {
	case 0:
		return platform.StateEnabled
	case 1:
		return platform.StatePaused
	}
	return platform.StateUnknown
}

// fetchGroups refreshes the groups: the org's group list, then the member
// list of each group whose member_version moved.
func (c *Client) fetchGroups(ctx context.Context, org int64, next *platform.Model) error {
	var all struct {
		Groups []Group `json:"groups"`
	}
	if err := c.call(ctx, "/v1/corp/web/group-getall", map[string]int64{"org_num": org}, &all); err != nil {
		return err
	}
	c.mu.Lock()
	if c.notIn == nil {
		c.notIn = map[int64]int64{}
	}
	notIn := c.notIn
	c.mu.Unlock()
	var groups []platform.Group
	for _, g := range all.Groups {
		gid, mv := int64(g.ID), int64(g.MemberVersion)
		if gid <= 0 {
			return &httpapi.Malformed{Op: "/v1/corp/web/group-getall", Err: fmt.Errorf("group id %d", gid)}
		}
		old := next.Group(gid)
		if old == nil {
			if v, ok := notIn[gid]; ok && v == mv && mv != 0 {
				continue
			}
		}
		var pg platform.Group
		if old != nil && old.MemberVersion == mv && mv != 0 {
			pg = *old
		} else {
			var gm struct {
				Members []GroupMember `json:"members"`
			}
			if err := c.call(ctx, "/v1/corp/web/group-member-getall", map[string]int64{"group_id": gid}, &gm); err != nil {
				return err
			}
			pg = platform.Group{ID: gid}
			in := false
			for _, m := range gm.Members {
				pm := groupMember(m)
				if pm.ID == next.Self.ID {
					in = true
				}
				pg.Members = append(pg.Members, pm)
			}
			if !in {
				c.mu.Lock()
				notIn[gid] = mv
				c.mu.Unlock()
				continue
			}
		}
		c.mu.Lock()
		delete(notIn, gid)
		c.mu.Unlock()
		setGroup(&pg, &g, &next.Self)
		groups = append(groups, pg)
	}
	next.Groups = groups
	return nil
}

func groupMember(m GroupMember) platform.Member {
	pm := platform.Member{ID: int64(m.UserID), Account: string(m.UserNum), Name: m.Name, TTS: m.TTS != 0, LocShare: m.LocShare != 0}
	if m.Prority != nil {
		pm.Priority = int(*m.Prority)
	}
	return pm
}

// setGroup copies a group's settings and derives this member's rights:
// corp has no per-member permissions; in a muted (shutup) group only
// admins — the org owner and the group's creator — may talk.
func setGroup(pg *platform.Group, g *Group, self *platform.Self) {
	pg.Name, pg.Type = g.Name, int(g.Type)
	pg.BurstMode = platform.BurstMode(g.BurstMode)
	pg.Muted = g.Shutup != 0
	pg.MemberVersion = int64(g.MemberVersion)
	pg.My.Call = true
	pg.My.Speak = !pg.Muted || self.Admin || int64(g.Creator) == self.ID
	for _, m := range pg.Members {
		if m.ID == self.ID {
			pg.My.Priority = m.Priority
		}
	}
}

// content decodes an event's content.
func content(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("no content")
	}
	return json.Unmarshal(raw, v)
}
