// Package platform is the one model of the platform that the agent sees:
// who this member is, its settings and its groups, unified over both
// platform dialects, and the Client interface a dialect implements.
//
// The dialects that fetch it live in uplink/httpapi/corp (the /v1/corp/web
// API) and uplink/httpapi/wapi (the /wapi API); each turns its platform's
// answers into a Model. agent/platformsync keeps the Model up to date and
// persists it.
package platform

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// State is the member's state, unified over both dialects: corp knows
// enabled (0) and paused (1); wapi knows inactive (0), active (1), paused
// (2), disabled (3), stunned (4) and killed (5).
type State string

const (
	StateEnabled  State = "enabled"
	StateInactive State = "inactive"
	StatePaused   State = "paused"
	StateDisabled State = "disabled"
	StateStunned  State = "stunned"
	StateKilled   State = "killed"
	// StateDeleted: the platform no longer has this member (corp
	// member-delete, wapi user/delete); StateExpired: wapi 545 "用户已失效".
	// No platform answer says either as a state: the sync sets them when
	// the platform answers that the member is gone (GoneError).
	StateDeleted State = "deleted"
	StateExpired State = "expired"
	StateUnknown State = "unknown"
)

// CanTalk reports whether a member in this state may use push-to-talk.
// Only enabled members may: a paused, disabled, stunned or killed handset
// neither talks nor (stunned, killed) listens.
func (s State) CanTalk() bool { return s == StateEnabled }

// CanListen reports whether a member in this state may hear its groups.
func (s State) CanListen() bool { return s == StateEnabled || s == StatePaused }

// BurstMode is a corp group's floor rule: 0 queue for the floor, 1 grab the
// mic when free, 2 pre-empt the speaker.
type BurstMode int

const (
	BurstQueue   BurstMode = 0
	BurstGrab    BurstMode = 1
	BurstPreempt BurstMode = 2
)

func (b BurstMode) String() string {
	switch b {
	case BurstQueue:
		return "queue"
	case BurstGrab:
		return "grab"
	case BurstPreempt:
		return "preempt"
	}
	return strconv.Itoa(int(b))
}

// Model is what the platform says about this handset. It is a value: the
// sync engine replaces it whole and never changes one that was handed out.
type Model struct {
	Dialect string    `json:"dialect"` // "corp" or "wapi"
	Account string    `json:"account"` // the login account
	Fetched time.Time `json:"fetched"` // when the platform last confirmed it
	Self    Self      `json:"self"`
	Groups  []Group   `json:"groups"` // the groups this member is in, by ID
	// Versions are the platform's change counters (corp: org group_ver and
	// address_ver); 0 means unknown, which forces a fetch.
	Versions Versions `json:"versions"`
}

// Versions lets a fetch skip what did not change.
type Versions struct {
	Group   int64 `json:"group_ver"`
	Address int64 `json:"address_ver"`
}

// Self is this member.
type Self struct {
	ID      int64  `json:"id"`
	Account string `json:"account"`
	Name    string `json:"name"`
	State   State  `json:"state"`
	// Priority: wapi 1–10, lower is higher; 0 when the platform has none.
	Priority int `json:"priority"`
	// Admin members may talk in muted groups (corp type 255, wapi
	// dispatchers).
	Admin bool `json:"admin"`
	// HasSettings is true when the platform sets tts, loc_share and track
	// (corp). Otherwise (wapi) the config file's values stay in force.
	HasSettings bool `json:"has_settings"`
	TTS         bool `json:"tts"`
	LocShare    bool `json:"loc_share"`
	Track       int  `json:"track"` // 0 off, 1 high, 2 medium, 3 low, 4 reserved, else seconds
	// Device is the state of the terminal bound to this user (wapi
	// device/bind); "" when the platform does not say.
	Device DeviceState `json:"device,omitempty"`
}

// Group is one group this member is in.
type Group struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Type      int       `json:"type"`
	BurstMode BurstMode `json:"burst_mode"`
	// Muted (corp shutup): only admins may talk.
	Muted bool `json:"muted"`
	// TalkLimit is the longest a member may hold the floor; 0 = no limit.
	TalkLimit time.Duration `json:"talk_limit"`
	// Priority of the group (wapi 1–10, lower is higher; 0 unknown).
	Priority      int         `json:"priority"`
	MemberVersion int64       `json:"member_version"`
	My            Permissions `json:"my"`
	Members       []Member    `json:"members"`
}

// Permissions are this member's rights in one group.
type Permissions struct {
	Call     bool `json:"call"`     // may start a call (wapi callPermission)
	Speak    bool `json:"speak"`    // may talk (wapi canSpeak; corp: not muted, or admin)
	Priority int  `json:"priority"` // in-group priority (corp prority, wapi innerPriority); 0 unknown
}

// Member is another member of a group (or this one).
type Member struct {
	ID       int64  `json:"id"`
	Account  string `json:"account"`
	Name     string `json:"name"`
	Priority int    `json:"priority"` // corp "prority"
	TTS      bool   `json:"tts"`
	LocShare bool   `json:"loc_share"`
}

// Group returns the group with id, or nil.
func (m *Model) Group(id int64) *Group {
	if m == nil {
		return nil
	}
	for i := range m.Groups {
		if m.Groups[i].ID == id {
			return &m.Groups[i]
		}
	}
	return nil
}

// DefaultGroup is the group a handset selects when the user has not chosen
// one: the highest-priority group (lowest number, unknown last), then the
// lowest ID. 0 when the member is in no group.
func (m *Model) DefaultGroup() int64 {
	if m == nil || len(m.Groups) == 0 {
		return 0
	}
	best := m.Groups[0]
	rank := func(p int) int {
		if p <= 0 {
			return 1 << 30
		}
		return p
	}
	for _, g := range m.Groups[1:] {
		if rank(g.Priority) < rank(best.Priority) || (rank(g.Priority) == rank(best.Priority) && g.ID < best.ID) {
			best = g
		}
	}
	return best.ID
}

// Clone returns a deep copy, for building the next model from this one.
func (m *Model) Clone() *Model {
	if m == nil {
		return nil
	}
	c := *m
	c.Groups = make([]Group, len(m.Groups))
	for i, g := range m.Groups {
		g.Members = slices.Clone(g.Members)
		c.Groups[i] = g
	}
	return &c
}

// Normalize sorts groups and members by ID so that equal models compare
// equal and diffs are stable.
func (m *Model) Normalize() {
	if len(m.Groups) == 0 {
		m.Groups = nil
	}
	slices.SortFunc(m.Groups, func(a, b Group) int { return cmpInt(a.ID, b.ID) })
	for i := range m.Groups {
		if len(m.Groups[i].Members) == 0 {
			m.Groups[i].Members = nil
		}
		slices.SortFunc(m.Groups[i].Members, func(a, b Member) int { return cmpInt(a.ID, b.ID) })
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Check rejects a model no platform answer should produce, so that a
// hostile or broken answer never replaces a good model.
func (m *Model) Check() error {
	if m.Self.ID <= 0 {
		return fmt.Errorf("platform model: member id %d", m.Self.ID)
	}
	seen := map[int64]bool{}
	for _, g := range m.Groups {
		if g.ID <= 0 || seen[g.ID] {
			return fmt.Errorf("platform model: group id %d missing or repeated", g.ID)
		}
		seen[g.ID] = true
		if g.TalkLimit < 0 {
			return fmt.Errorf("platform model: group %d talk limit %s", g.ID, g.TalkLimit)
		}
	}
	if m.Self.Track < 0 {
		return fmt.Errorf("platform model: track %d", m.Self.Track)
	}
	return nil
}

// Client is one platform dialect, as the sync engine uses it.
type Client interface {
	// Fetch brings prev up to date. It asks only for what the platform's
	// versions say changed; a version of 0 in prev forces that part to be
	// fetched. With prev nil it reads everything and trusts nothing it
	// remembers (the sync engine's full refresh). It returns a new model;
	// prev is not changed.
	Fetch(ctx context.Context, prev *Model) (*Model, error)
	// Apply applies a pushed event to m without asking the platform. It
	// returns the next model (m itself when the event changes nothing for
	// this member) and refetch = true when the event could not be applied
	// completely; the returned model then has the versions of the parts to
	// fetch again cleared, so that the next Fetch refreshes them.
	Apply(m *Model, ev wire.Event) (next *Model, refetch bool, err error)
}
