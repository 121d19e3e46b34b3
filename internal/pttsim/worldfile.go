package pttsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A world file is what a bench starts with: any number of members
// (handsets, people, operators), groups and memberships, in YAML
// (docs/pttsim.md, "World file"; example: docs/pttsim-world.yaml). It is
// checked as a whole before anything is created, and every problem names
// its line, as the agent's check-config does.

// WorldFile is a parsed world file.
type WorldFile struct {
	Members []WorldMember `yaml:"members"`
	Groups  []WorldGroup  `yaml:"groups"`
}

// WorldMember is one member of the org.
type WorldMember struct {
	Account  string `yaml:"account"`  // corp user_num = wapi account = MQTT account
	Name     string `yaml:"name"`     // default: the account
	Password string `yaml:"password"` // plain text; clients send its MD5
	Type     string `yaml:"type"`     // device (default), user or owner
	Phone    string `yaml:"phone"`
	TTS      *bool  `yaml:"tts"`       // default false
	LocShare *bool  `yaml:"loc_share"` // default true for a device
	Track    *int   `yaml:"track"`     // 0 off, 1 high, 2 medium, 3 low, else seconds; default 1
	State    string `yaml:"state"`     // active (default), inactive, paused, disabled, stunned, killed
	Priority int    `yaml:"priority"`  // 1–10, lower is higher; default 10

	line int
}

// WorldGroup is one talk group.
type WorldGroup struct {
	Name      string            `yaml:"name"`
	Creator   string            `yaml:"creator"`    // an account; default: the first owner
	BurstMode int               `yaml:"burst_mode"` // 0 queue, 1 grab the mic, 2 pre-empt
	Shutup    bool              `yaml:"shutup"`     // only admins talk
	TalkTime  int               `yaml:"talk_time"`  // seconds; default 60
	Priority  int               `yaml:"priority"`   // 1–10; default 10
	Members   []WorldMembership `yaml:"members"`

	line int
}

// WorldMembership is a member's place in a group: an account alone, or a
// mapping with the account and its settings in the group.
type WorldMembership struct {
	Account        string `yaml:"account"`
	Priority       int    `yaml:"priority"`        // the group priority (corp prority); 0: the member's own
	CanSpeak       *bool  `yaml:"can_speak"`       // default true
	CallPermission *bool  `yaml:"call_permission"` // default true

	line int
}

// UnmarshalYAML takes "- dev-0001" as well as "- {account: dev-0001, …}".
// It is the function-style unmarshaler on purpose: that one decodes with
// the file's own decoder, so an unknown key inside the mapping is still an
// error (KnownFields).
func (m *WorldMembership) UnmarshalYAML(unmarshal func(any) error) error {
	var account string
	if unmarshal(&account) == nil {
		*m = WorldMembership{Account: account}
		return nil
	}
	type groupMembership WorldMembership
	return unmarshal((*groupMembership)(m))
}

// memberTypes maps the file's type names to corp member types.
var memberTypes = map[string]int{"": TypeDevice, "device": TypeDevice, "user": TypeUser, "owner": TypeOwner}

// memberStates maps the file's state names to wapi states.
var memberStates = map[string]int{"": StateActive, "active": StateActive, "inactive": StateInactive,
	"paused": StatePaused, "disabled": StateDisabled, "stunned": StateStunned, "killed": StateKilled}

// worldAccount is what an account may be: the agent's device.account rule,
// since it is a segment of MQTT topics (no '/', '+', '#').
var worldAccount = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// LoadWorld reads and checks a world file.
func LoadWorld(path string) (*WorldFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("world file: %w", err)
	}
	return ParseWorld(path, data)
}

// ParseWorld parses and checks a world file's contents; name is used in
// the error messages. Every problem found is reported, each with its line.
func ParseWorld(name string, data []byte) (*WorldFile, error) {
	var wf WorldFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file, an empty world
		return nil, fmt.Errorf("%s: %w (see docs/pttsim.md, \"World file\")", name, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	wf.setLines(&doc)
	if err := wf.check(name); err != nil {
		return nil, err
	}
	return &wf, nil
}

// setLines copies each entry's line from the node tree: yaml.v3 decodes
// into structs without positions.
func (wf *WorldFile) setLines(doc *yaml.Node) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	seq := func(n *yaml.Node, key string) []*yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.SequenceNode {
				return n.Content[i+1].Content
			}
		}
		return nil
	}
	for i, n := range seq(root, "members") {
		if i < len(wf.Members) {
			wf.Members[i].line = n.Line
		}
	}
	for i, gn := range seq(root, "groups") {
		if i >= len(wf.Groups) {
			break
		}
		g := &wf.Groups[i]
		g.line = gn.Line
		for j, mn := range seq(gn, "members") {
			if j < len(g.Members) {
				g.Members[j].line = mn.Line
			}
		}
	}
}

// check finds every problem of the file at once.
func (wf *WorldFile) check(name string) error {
	var errs []string
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	seen := map[string]int{}
	owners := 0
	for i, m := range wf.Members {
		at := fmt.Sprintf("members[%d]", i)
		switch {
		case !worldAccount.MatchString(m.Account):
			bad(m.line, "%s.account %q: want 1–64 letters, digits, '.', '_' or '-' (it is an MQTT topic segment)", at, m.Account)
		case seen[m.Account] != 0:
			bad(m.line, "%s.account %q: already a member at line %d", at, m.Account, seen[m.Account])
		default:
			seen[m.Account] = m.line
		}
		t, ok := memberTypes[m.Type]
		if !ok {
			bad(m.line, "%s.type %q: want device, user or owner", at, m.Type)
		}
		if t == TypeOwner {
			owners++
		}
		if m.Password == "" && t != TypeUser {
			bad(m.line, "%s.password: required for a %s (it logs in with it)", at, cmp(m.Type, "device"))
		}
		if _, ok := memberStates[m.State]; !ok {
			bad(m.line, "%s.state %q: want active, inactive, paused, disabled, stunned or killed", at, m.State)
		}
		if m.Track != nil && *m.Track < 0 {
			bad(m.line, "%s.track %d: want 0 off, 1 high, 2 medium, 3 low, or a period in seconds", at, *m.Track)
		}
		if m.Priority < 0 || m.Priority > 10 {
			bad(m.line, "%s.priority %d: want 1–10 (lower is higher)", at, m.Priority)
		}
	}
	groups := map[string]int{}
	for i, g := range wf.Groups {
		at := fmt.Sprintf("groups[%d]", i)
		switch {
		case strings.TrimSpace(g.Name) == "":
			bad(g.line, "%s.name: required", at)
		case groups[g.Name] != 0:
			bad(g.line, "%s.name %q: already a group at line %d", at, g.Name, groups[g.Name])
		default:
			groups[g.Name] = g.line
		}
		if g.Creator != "" && seen[g.Creator] == 0 {
			bad(g.line, "%s.creator %q: not in members", at, g.Creator)
		}
		if g.Creator == "" && owners == 0 {
			bad(g.line, "%s.creator: give one, or list a member of type owner (the default creator)", at)
		}
		if g.BurstMode < 0 || g.BurstMode > 2 {
			bad(g.line, "%s.burst_mode %d: want 0 queue, 1 grab the mic or 2 pre-empt", at, g.BurstMode)
		}
		if g.TalkTime < 0 {
			bad(g.line, "%s.talk_time %d: want seconds ≥ 1 (0: 60)", at, g.TalkTime)
		}
		if g.Priority < 0 || g.Priority > 10 {
			bad(g.line, "%s.priority %d: want 1–10 (lower is higher)", at, g.Priority)
		}
		in := map[string]bool{}
		for j, gm := range g.Members {
			switch {
			case seen[gm.Account] == 0:
				bad(gm.line, "%s.members[%d] %q: not in members", at, j, gm.Account)
			case in[gm.Account]:
				bad(gm.line, "%s.members[%d] %q: listed twice in the group", at, j, gm.Account)
			}
			in[gm.Account] = true
			if gm.Priority < 0 || gm.Priority > 10 {
				bad(gm.line, "%s.members[%d].priority %d: want 1–10, or 0 for the member's own", at, j, gm.Priority)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s\n(the world file's keys are in docs/pttsim.md, \"World file\")",
			ErrBadWorld, strings.Join(errs, "\n  "))
	}
	return nil
}

// ErrBadWorld is a world file that does not check.
var ErrBadWorld = errors.New("world file")

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// WorldReport says what ApplyWorld did.
type WorldReport struct {
	Created, Kept []string // accounts
	Groups        []Group  // every group of the file, as it is now
}

// ApplyWorld creates the file's members, groups and memberships that are
// missing. What exists already (an account, or a group of that name, kept
// by Options.StateFile) is left as it is — an operator's change during a
// run survives a restart — but gets the memberships it lacks.
func (s *Sim) ApplyWorld(wf *WorldFile) (WorldReport, error) {
	var rep WorldReport
	ids := map[string]int64{}
	firstOwner := int64(0)
	for _, wm := range wf.Members {
		typ := memberTypes[wm.Type]
		if m, ok := s.MemberByNum(wm.Account); ok {
			ids[wm.Account] = m.ID
			rep.Kept = append(rep.Kept, wm.Account)
		} else {
			spec := MemberSpec{Num: wm.Account, Name: wm.Name, Password: wm.Password, Type: typ, Phone: wm.Phone,
				Track: 1, Priority: wm.Priority}
			if wm.TTS != nil && *wm.TTS {
				spec.TTS = 1
			}
			if (wm.LocShare == nil && typ == TypeDevice) || (wm.LocShare != nil && *wm.LocShare) {
				spec.LocShare = 1
			}
			if wm.Track != nil {
				spec.Track = *wm.Track
			}
			m, err := s.AddMember(spec)
			if err != nil {
				return rep, fmt.Errorf("world: member %s: %w", wm.Account, err)
			}
			if st := memberStates[wm.State]; st != StateActive {
				if _, err := s.SetMemberState(m.ID, st); err != nil {
					return rep, fmt.Errorf("world: member %s: %w", wm.Account, err)
				}
			}
			ids[wm.Account] = m.ID
			rep.Created = append(rep.Created, wm.Account)
		}
		if typ == TypeOwner && firstOwner == 0 {
			firstOwner = ids[wm.Account]
		}
	}
	existing := map[string]int64{}
	for _, g := range s.Groups() {
		existing[g.Name] = g.ID
	}
	for _, wg := range wf.Groups {
		uids := make([]int64, len(wg.Members))
		for i, gm := range wg.Members {
			uids[i] = ids[gm.Account]
		}
		gid, ok := existing[wg.Name]
		if ok {
			if _, err := s.AddGroupMembers(gid, uids); err != nil {
				return rep, fmt.Errorf("world: group %q: %w", wg.Name, err)
			}
		} else {
			creator := firstOwner
			if wg.Creator != "" {
				creator = ids[wg.Creator]
			}
			g, err := s.CreateGroup(GroupSpec{Name: wg.Name, Creator: creator, BurstMode: wg.BurstMode,
				Shutup: boolInt(wg.Shutup), Priority: wg.Priority, TalkTime: wg.TalkTime, Members: uids})
			if err != nil {
				return rep, fmt.Errorf("world: group %q: %w", wg.Name, err)
			}
			gid = g.ID
			for _, gm := range wg.Members {
				if gm.Priority == 0 && gm.CanSpeak == nil && gm.CallPermission == nil {
					continue
				}
				err := s.ChangeGroupMember(gid, ids[gm.Account], func(x *GroupMember) {
					x.Priority = gm.Priority
					x.CanSpeak = permission(gm.CanSpeak)
					x.CallPermission = permission(gm.CallPermission)
				})
				if err != nil {
					return rep, fmt.Errorf("world: group %q, member %s: %w", wg.Name, gm.Account, err)
				}
			}
		}
		g, _ := s.Group(gid)
		rep.Groups = append(rep.Groups, g)
	}
	return rep, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// permission is the seed's Y/N for a permission that defaults to yes.
func permission(b *bool) string {
	if b != nil && !*b {
		return "N"
	}
	return "Y"
}
