package pttsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// Who is online: the simulator follows every device's retained presence
// ({prefix}/dev/+/status, wire.Presence, which names the device's active
// group while it is online) and answers the seeds' presence calls from
// it — wapi pttUser/isOnline and group/cgt/inThisGroupUids, and the
// "online" flag of corp group-member-getall.

// ext is what the simulator keeps beside its world for notices, terminals
// and presence; s.mu guards it. It is not kept in Options.StateFile:
// presence comes back with the retained messages, and terminals and
// notices are a test's or a bench's.
type ext struct {
	presence   map[string]presence // by account
	devices    map[int64]*Device   // by terminal id
	deviceOf   map[string]heldDevice
	notices    []Notice
	nextNotice int64
	hooks      WebhookStats
}

// presence is a device's last retained status.
type presence struct {
	online bool
	group  int64
	since  time.Time
}

// onStatus follows a device's retained presence, then lets the floor
// arbiter know (a device that went offline frees its floor).
func (s *Sim) onStatus(topic string, payload []byte) {
	if acct := wire.DeviceOf(s.o.Prefix, topic); acct != "" {
		var p wire.Presence
		if err := json.Unmarshal(payload, &p); err == nil || len(payload) == 0 {
			s.mu.Lock()
			if s.x.presence == nil {
				s.x.presence = map[string]presence{}
			}
			s.x.presence[acct] = presence{online: p.State == "online", group: p.Group, since: s.now()}
			s.mu.Unlock()
		}
	}
	s.onPresence(topic, payload)
}

// isOnline (s.mu held) reports whether account's presence says online.
func (s *Sim) isOnline(account string) bool {
	return s.x.presence[account].online
}

// Online reports the presence of a device account: online, and its
// active group.
func (s *Sim) Online(account string) (online bool, group int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.x.presence[account]
	return p.online, p.group
}

// wapiIsOnline serves pttUser/isOnline {gid, uids}: the uids online,
// whether in the group or not.
func (s *Sim) wapiIsOnline(w http.ResponseWriter, q *wapiReq) {
	s.wapiPresence(w, q, false)
}

// wapiInThisGroup serves group/cgt/inThisGroupUids {gid, uids}: the uids
// online and in the group — members of it whose active group it is.
func (s *Sim) wapiInThisGroup(w http.ResponseWriter, q *wapiReq) {
	s.wapiPresence(w, q, true)
}

func (s *Sim) wapiPresence(w http.ResponseWriter, q *wapiReq, inGroup bool) {
	gid := int64(q.GID)
	s.mu.Lock()
	g := s.w.Groups[gid]
	if g == nil {
		s.mu.Unlock()
		wapiReply(w, wapiNoGroup, "群组不存在", nil)
		return
	}
	out := []int64{}
	for _, id := range q.UIDs {
		uid := int64(id)
		m := s.w.Members[uid]
		if m == nil || slices.Contains(out, uid) {
			continue
		}
		p := s.x.presence[m.Num]
		if p.online && (!inGroup || (g.member(uid) != nil && p.group == gid)) {
			out = append(out, uid)
		}
	}
	s.mu.Unlock()
	wapiReply(w, wapiOK, "成功", out)
}

// corpGroupMemberGetAllOnline serves group-member-getall with each
// member's "online" (0/1) from its presence.
func (s *Sim) corpGroupMemberGetAllOnline(w http.ResponseWriter, c *corpCall) {
	gid := int64(c.q.GroupID)
	out := locked(s, func(wd *world) []map[string]any {
		g := wd.Groups[gid]
		if g == nil {
			return nil
		}
		ms := corpGroupMembers(wd, g, g.uids())
		for _, m := range ms {
			if num, _ := m["user_num"].(string); s.isOnline(num) {
				m["online"] = 1
			}
		}
		return ms
	})
	if out == nil {
		corpErr(w, ErrNoGroup)
		return
	}
	corpOK(w, map[string]any{"members": out})
}
