package pttsim

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// The simulator's world: one org with members, departments and groups.
// Both dialects are views of it (corp ids are wapi ids, corp user_num is
// the wapi account). Exported types and methods let tests — and the
// push-to-talk work that comes later — read and change it from Go; every
// change publishes the events a real platform would.

// State values (wapi's numbering; corp shows 0 for active, 1 otherwise).
const (
	StateInactive = 0
	StateActive   = 1
	StatePaused   = 2
	StateDisabled = 3
	StateStunned  = 4
	StateKilled   = 5
)

// Member types (corp).
const (
	TypeUser   = 0
	TypeDevice = 1
	TypeOwner  = 255
)

// Member is an org member: a person, a device or the owner.
type Member struct {
	ID       int64  `json:"id"`
	Num      string `json:"num"` // corp user_num = wapi account = the device's MQTT account
	JobNum   string `json:"job_num"`
	Name     string `json:"name"`
	Password string `json:"password"` // hex MD5
	Phone    string `json:"phone"`
	Sex      int    `json:"sex"`
	Avatar   string `json:"avatar"`
	DeptID   int64  `json:"dept_id"`
	Type     int    `json:"type"`
	TTS      int    `json:"tts"`
	LocShare int    `json:"loc_share"`
	Track    int    `json:"track"`
	State    int    `json:"state"`    // wapi numbering, StateActive…
	Priority int    `json:"priority"` // wapi 1–10
	Created  int64  `json:"created"`
}

// CorpState is the corp view of State: 0 enabled, 1 paused.
func (m *Member) CorpState() int {
	if m.State == StateActive {
		return 0
	}
	return 1
}

// GroupMember is a member's place in a group.
type GroupMember struct {
	UserID         int64  `json:"user_id"`
	Priority       int    `json:"priority"` // corp "prority", wapi innerPriority
	TTS            int    `json:"tts"`
	LocShare       int    `json:"loc_share"`
	CallPermission string `json:"call_permission"` // Y/N
	CanSpeak       string `json:"can_speak"`       // Y/N
}

// Group is a talk group.
type Group struct {
	ID            int64          `json:"id"`
	Name          string         `json:"name"`
	Avatar        string         `json:"avatar"`
	Creator       int64          `json:"creator"`
	Type          int            `json:"type"` // corp 17 (org group)
	BurstMode     int            `json:"burst_mode"`
	Shutup        int            `json:"shutup"`
	MemberVersion int64          `json:"member_version"`
	Priority      int            `json:"priority"`  // wapi 1–10
	TalkTime      int            `json:"talk_time"` // wapi seconds
	Created       int64          `json:"created"`
	Members       []*GroupMember `json:"members"`
}

func (g *Group) member(uid int64) *GroupMember {
	for _, m := range g.Members {
		if m.UserID == uid {
			return m
		}
	}
	return nil
}

// Message is one entry of a group's history (message-get-group-history-message).
// Type: 0 text, 1 image, 2 video, 3 voice {url, duration}, 4 file, 6 location, 7 recalled.
type Message struct {
	MsgID   int64 `json:"msg_id"`
	UserID  int64 `json:"user_id"`
	Created int64 `json:"created"`
	Type    int   `json:"type"`
	Content any   `json:"content"`
}

// AudioRecord is one talk recording (wapi ptt/audioRecord).
type AudioRecord struct {
	UserID     int64  `json:"userId"`
	Account    string `json:"account"`
	BeginTime  int64  `json:"beginTime"` // Unix ms
	DurationMs int64  `json:"durationMs"`
	GroupName  string `json:"groupName"`
	FileURL    string `json:"fileUrl"`
}

// world is everything the simulator knows; the Sim's mutex guards it.
type world struct {
	OrgNum     int64                `json:"org_num"`
	OrgName    string               `json:"org_name"`
	Created    int64                `json:"created"`
	GroupVer   int64                `json:"group_ver"`
	AddressVer int64                `json:"address_ver"`
	NextID     int64                `json:"next_id"`
	NextGroup  int64                `json:"next_group"`
	NextMsg    int64                `json:"next_msg"`
	Members    map[int64]*Member    `json:"members"`
	Depts      map[int64]string     `json:"depts"`
	Groups     map[int64]*Group     `json:"groups"`
	Messages   map[int64][]Message  `json:"messages"`
	Records    []AudioRecord        `json:"records"`
	Tracks     map[string]*trackLog `json:"tracks"` // by account
}

type trackLog struct {
	LastSeq uint64       `json:"last_seq"`
	Points  []wire.Point `json:"points"`
	Dups    int          `json:"dups"`
	Missing uint64       `json:"missing,omitempty"` // seqs never received: points lost on the handset
}

func newWorld(now time.Time) *world {
	return &world{OrgNum: 100130, OrgName: "pttsim", Created: now.Unix(), GroupVer: 1, AddressVer: 1,
		NextID: 1253400, NextGroup: 80000500, NextMsg: 173614400,
		Members: map[int64]*Member{}, Depts: map[int64]string{}, Groups: map[int64]*Group{},
		Messages: map[int64][]Message{}, Tracks: map[string]*trackLog{}}
}

// bump moves a version counter: the seed's versions are Unix times, so use
// the clock when it is ahead, else one more.
func bump(v *int64, now time.Time) {
	*v = max(*v+1, now.Unix())
}

// Errors of operations, mapped to the dialects' codes by the handlers.
var (
	ErrNoMember   = errors.New("member does not exist")
	ErrNoGroup    = errors.New("group does not exist")
	ErrExists     = errors.New("account already exists")
	ErrBadRequest = errors.New("bad parameters")
)

func (w *world) byNum(num string) *Member {
	for _, m := range w.Members {
		if m.Num == num {
			return m
		}
	}
	return nil
}

func (w *world) byPhone(phone string) *Member {
	for _, m := range w.Members {
		if m.Phone != "" && m.Phone == phone {
			return m
		}
	}
	return nil
}

func (w *world) sortedMembers() []*Member {
	ms := make([]*Member, 0, len(w.Members))
	for _, m := range w.Members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	return ms
}

func (w *world) sortedGroups() []*Group {
	gs := make([]*Group, 0, len(w.Groups))
	for _, g := range w.Groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
	return gs
}

// groupsOf lists the groups uid is in.
func (w *world) groupsOf(uid int64) []*Group {
	var out []*Group
	for _, g := range w.sortedGroups() {
		if g.member(uid) != nil {
			out = append(out, g)
		}
	}
	return out
}

// accountsOf is who must hear about a change of these groups: every member.
func (w *world) accounts(uids ...int64) []string {
	var out []string
	for _, id := range uids {
		if m := w.Members[id]; m != nil && !slices.Contains(out, m.Num) {
			out = append(out, m.Num)
		}
	}
	return out
}

func (g *Group) uids() []int64 {
	out := make([]int64, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.UserID
	}
	return out
}

// MemberSpec creates a member.
type MemberSpec struct {
	Num      string // empty: assigned
	Name     string
	Password string // plain text; stored as MD5
	Type     int
	Phone    string
	DeptID   int64
	TTS      int
	LocShare int
	Track    int
	Priority int // wapi 1–10; 0: 10
}

func (w *world) addMember(s MemberSpec, now time.Time) (*Member, error) {
	w.NextID++
	id := w.NextID
	if s.Num == "" {
		s.Num = fmt.Sprintf("%d", 30015000+id%100000)
	}
	if w.byNum(s.Num) != nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, s.Num)
	}
	if s.Priority == 0 {
		s.Priority = 10
	}
	if s.Name == "" {
		s.Name = s.Num
	}
	m := &Member{ID: id, Num: s.Num, JobNum: fmt.Sprint(id), Name: s.Name, Password: md5hex(s.Password), Phone: s.Phone,
		DeptID: s.DeptID, Type: s.Type, TTS: s.TTS, LocShare: s.LocShare, Track: s.Track, State: StateActive,
		Priority: s.Priority, Created: now.Unix(), Avatar: "http://favicon.weila.hk/default/user.png"}
	w.Members[id] = m
	bump(&w.AddressVer, now)
	return m, nil
}
