package pttsim

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// What the web console (console.go) shows, built from the simulator's
// own state at each look: the devices with presence, active group and
// floor, the groups with their floor, the recordings, and the feeds other
// features register (notices, emergency alerts).

// ConsoleState is one look at the bench: GET /console/api/state, and each
// message of /console/events.
type ConsoleState struct {
	Org        string             `json:"org"`
	Devices    []ConsoleDevice    `json:"devices"`
	Groups     []ConsoleGroup     `json:"groups"`
	Recordings []ConsoleRecording `json:"recordings"` // newest first
	Feeds      []ConsoleFeedView  `json:"feeds"`
	Stats      ConsoleStats       `json:"stats"`
}

// ConsoleDevice is a handset as the console shows it.
type ConsoleDevice struct {
	ID      int64  `json:"id"`
	Account string `json:"account"`
	Name    string `json:"name"`
	State   string `json:"state"` // the member's state: active, paused, stunned…
	// Presence: "online", "offline" or "unknown" (no retained status seen).
	Presence      string `json:"presence"`
	PresenceSince int64  `json:"presence_since,omitempty"` // Unix ms the simulator saw it change
	Version       string `json:"version,omitempty"`
	// ActiveGroup: the group the device listens to and talks in, from its
	// presence when it says, else from the floor (the last group it asked
	// or holds), else its only group; 0 when none of these tells.
	ActiveGroup int64 `json:"active_group"`
	// Floor: talking (holds the floor), queued, listening (someone else
	// holds its active group's floor) or idle.
	Floor    string        `json:"floor"`
	Groups   []int64       `json:"groups"`
	LocShare int           `json:"loc_share"`
	Track    int           `json:"track"` // the track setting
	Points   int           `json:"points"`
	Last     *ConsolePoint `json:"last,omitempty"`
}

// ConsolePoint is a track point: Unix seconds, degrees, km/h (null: not known).
type ConsolePoint struct {
	Created int64   `json:"t"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Speed   any     `json:"speed"`
}

// ConsoleGroup is a group and its floor.
type ConsoleGroup struct {
	ID        int64    `json:"id"`
	Name      string   `json:"name"`
	BurstMode int      `json:"burst_mode"`
	Shutup    bool     `json:"shutup"`
	TalkTime  int      `json:"talk_time"`
	Members   []string `json:"members"` // accounts
	Holder    string   `json:"holder"`  // who has the floor; "" idle
	Queue     []string `json:"queue"`
}

// ConsoleRecording is a talk burst the platform stores.
type ConsoleRecording struct {
	Account    string `json:"account"`
	Group      string `json:"group"`
	Begin      int64  `json:"begin"` // Unix ms
	DurationMs int64  `json:"duration_ms"`
	URL        string `json:"url"` // relative when the file is ours, so the page plays it from wherever it is opened
}

// ConsoleStats are the simulator's counters worth a glance.
type ConsoleStats struct {
	TrackPoints  int `json:"track_points"`
	TrackMissing int `json:"track_missing"`
	Grants       int `json:"grants"`
	Denies       int `json:"denies"`
	Revokes      int `json:"revokes"`
	VoiceRelayed int `json:"voice_relayed"`
	Records      int `json:"records"`
}

// ConsoleItem is one entry of a feed: a notice, an emergency alert, …
type ConsoleItem struct {
	Time    int64  `json:"time"`              // Unix ms
	Account string `json:"account,omitempty"` // the device concerned, if one
	From    string `json:"from,omitempty"`
	Title   string `json:"title"`
	Text    string `json:"text,omitempty"`
	// Alert items are alarms: the page shows them in red, in a banner
	// until they are no longer Active, and on the map at Lat/Lon.
	Alert  bool     `json:"alert,omitempty"`
	Active bool     `json:"active,omitempty"`
	Lat    *float64 `json:"lat,omitempty"`
	Lon    *float64 `json:"lon,omitempty"`
	URL    string   `json:"url,omitempty"` // an attachment, a recording
}

// consoleFeed is a panel of the console a feature adds: Items lists what
// it has, oldest first.
type consoleFeed struct {
	Name, Title string
	Items       func(s *Sim) []ConsoleItem
}

// ConsoleFeedView is a feed as the page gets it.
type ConsoleFeedView struct {
	Name  string        `json:"name"`
	Title string        `json:"title"`
	Items []ConsoleItem `json:"items"`
}

var (
	feedsMu      sync.Mutex
	consoleFeeds []consoleFeed
)

// registerConsoleFeed adds a panel to the console of every simulator. A
// feature calls it from an init func in its own file, e.g. notices:
//
//	func init() {
//		registerConsoleFeed("notices", "Notices", func(s *Sim) []ConsoleItem { … s.Notices() … })
//	}
//
// and the page shows the panel without a change of its own.
func registerConsoleFeed(name, title string, items func(s *Sim) []ConsoleItem) {
	feedsMu.Lock()
	defer feedsMu.Unlock()
	consoleFeeds = slices.DeleteFunc(consoleFeeds, func(f consoleFeed) bool { return f.Name == name })
	consoleFeeds = append(consoleFeeds, consoleFeed{Name: name, Title: title, Items: items})
}

// consoleHub is what the console keeps beside the world: presence, which
// only the console needs so far.
type consoleHub struct {
	mu       sync.Mutex
	presence map[string]consolePresence
}

type consolePresence struct {
	online  bool
	since   time.Time
	version string
	group   int64
}

// notePresence follows a device's retained status ({prefix}/dev/+/status).
// The group is read when the payload carries one (an agent that says its
// active group in its presence); the field is decoded here rather than
// from wire.Presence so the console does not depend on that.
func (s *Sim) notePresence(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	if acct == "" {
		return
	}
	var p struct {
		State   string `json:"state"`
		Version string `json:"version"`
		Group   int64  `json:"group"`
	}
	if len(payload) > 0 && json.Unmarshal(payload, &p) != nil {
		return
	}
	h := &s.con
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(payload) == 0 { // the retained status cleared: nothing is known
		delete(h.presence, acct)
		return
	}
	if h.presence == nil {
		h.presence = map[string]consolePresence{}
	}
	old, seen := h.presence[acct]
	cur := consolePresence{online: p.State == "online", since: s.now(), version: p.Version, group: p.Group}
	if seen && old.online == cur.online {
		cur.since = old.since
	}
	h.presence[acct] = cur
}

var stateNames = map[int]string{StateInactive: "inactive", StateActive: "active", StatePaused: "paused",
	StateDisabled: "disabled", StateStunned: "stunned", StateKilled: "killed"}

// consoleRecordings is how many recordings the page lists.
const consoleRecordings = 100

// ConsoleState looks at the bench now.
func (s *Sim) ConsoleState() ConsoleState {
	var st ConsoleState
	type dev struct {
		ConsoleDevice
		only int64
	}
	var devs []dev
	s.mu.Lock()
	st.Org = s.w.OrgName
	groupsOf := map[int64][]int64{} // member → its groups, in one pass
	for _, g := range s.w.sortedGroups() {
		cg := ConsoleGroup{ID: g.ID, Name: g.Name, BurstMode: g.BurstMode, Shutup: g.Shutup != 0, TalkTime: g.TalkTime,
			Members: []string{}, Queue: []string{}}
		for _, gm := range g.Members {
			if m := s.w.Members[gm.UserID]; m != nil {
				cg.Members = append(cg.Members, m.Num)
				groupsOf[m.ID] = append(groupsOf[m.ID], g.ID)
			}
		}
		st.Groups = append(st.Groups, cg)
	}
	for _, m := range s.w.sortedMembers() {
		if m.Type != TypeDevice {
			continue
		}
		d := dev{ConsoleDevice: ConsoleDevice{ID: m.ID, Account: m.Num, Name: m.Name, State: stateNames[m.State],
			Presence: "unknown", LocShare: m.LocShare, Track: m.Track, Groups: groupsOf[m.ID], Floor: "idle"}}
		if d.Groups == nil {
			d.Groups = []int64{}
		}
		if len(d.Groups) == 1 {
			d.only = d.Groups[0]
		}
		if tl := s.w.Tracks[m.Num]; tl != nil && len(tl.Points) > 0 {
			p := tl.Points[len(tl.Points)-1]
			d.Points = len(tl.Points)
			d.Last = &ConsolePoint{Created: p.Created, Lat: p.Latitude, Lon: p.Longitude, Speed: num(p.Speed)}
		}
		devs = append(devs, d)
	}
	st.Stats = ConsoleStats{TrackPoints: s.stats.TrackPoints, TrackMissing: s.stats.TrackMissing, Records: s.stats.Records}
	recs := s.w.Records[max(0, len(s.w.Records)-consoleRecordings):]
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		st.Recordings = append(st.Recordings, ConsoleRecording{Account: r.Account, Group: r.GroupName, Begin: r.BeginTime,
			DurationMs: r.DurationMs, URL: localFileURL(r.FileURL)})
	}
	s.mu.Unlock()

	// The floor: holders, queues, and the group each device last asked for.
	holders := map[string]int64{}
	queued := map[string]bool{}
	asked := map[string]int64{}
	s.fl.mu.Lock()
	for i := range st.Groups {
		g := &st.Groups[i]
		if h, ok := s.fl.arb.Holder(g.ID); ok {
			g.Holder = h
			holders[h] = g.ID
		}
		if q := s.fl.arb.Queue(g.ID); len(q) > 0 {
			g.Queue = q
			for _, a := range q {
				queued[a] = true
			}
		}
	}
	for i := len(s.fl.events) - 1; i >= 0 && len(asked) < len(devs); i-- {
		e := &s.fl.events[i]
		if e.From != "" && e.Floor.Type == wire.FloorRequest {
			if _, ok := asked[e.From]; !ok {
				asked[e.From] = e.Floor.Group
			}
		}
	}
	fs := s.fl.stats
	s.fl.mu.Unlock()
	st.Stats.Grants, st.Stats.Denies, st.Stats.Revokes, st.Stats.VoiceRelayed = fs.Grants, fs.Denies, fs.Revokes, fs.VoiceRelayed

	s.con.mu.Lock()
	for i := range devs {
		d := &devs[i]
		p, ok := s.con.presence[d.Account]
		if ok {
			d.Presence, d.PresenceSince, d.Version = "offline", p.since.UnixMilli(), p.version
			if p.online {
				d.Presence = "online"
			}
		}
		switch {
		case p.group != 0 && p.online:
			d.ActiveGroup = p.group
		case holders[d.Account] != 0:
			d.ActiveGroup = holders[d.Account]
		case asked[d.Account] != 0 && slices.Contains(d.Groups, asked[d.Account]):
			d.ActiveGroup = asked[d.Account]
		default:
			d.ActiveGroup = d.only
		}
	}
	s.con.mu.Unlock()
	holderOf := map[int64]string{}
	for _, g := range st.Groups {
		holderOf[g.ID] = g.Holder
	}
	for _, d := range devs {
		switch {
		case holders[d.Account] != 0:
			d.Floor = "talking"
		case queued[d.Account]:
			d.Floor = "queued"
		case d.ActiveGroup != 0 && holderOf[d.ActiveGroup] != "":
			d.Floor = "listening"
		}
		st.Devices = append(st.Devices, d.ConsoleDevice)
	}

	feedsMu.Lock()
	feeds := slices.Clone(consoleFeeds)
	feedsMu.Unlock()
	for _, f := range feeds {
		items := f.Items(s)
		if items == nil {
			items = []ConsoleItem{}
		}
		st.Feeds = append(st.Feeds, ConsoleFeedView{Name: f.Name, Title: f.Title, Items: items})
	}
	if st.Devices == nil {
		st.Devices = []ConsoleDevice{}
	}
	if st.Groups == nil {
		st.Groups = []ConsoleGroup{}
	}
	if st.Recordings == nil {
		st.Recordings = []ConsoleRecording{}
	}
	if st.Feeds == nil {
		st.Feeds = []ConsoleFeedView{}
	}
	return st
}

// localFileURL turns the URL of a file this simulator serves into its
// path: the handset saw the platform at its own address for it (e.g.
// 127.0.0.1 on the bench machine), which a browser elsewhere cannot reach.
func localFileURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(p.Path, "/files/") {
		return u
	}
	return p.Path
}

// ConsoleTrack returns a device's last n points, oldest first.
func (s *Sim) ConsoleTrack(account string, n int) []ConsolePoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ConsolePoint{}
	tl := s.w.Tracks[account]
	if tl == nil {
		return out
	}
	for _, p := range tl.Points[max(0, len(tl.Points)-n):] {
		out = append(out, ConsolePoint{Created: p.Created, Lat: p.Latitude, Lon: p.Longitude, Speed: num(p.Speed)})
	}
	return out
}
