package pttsim

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim/arbiter"
	"github.com/pttagent/pttagent/wire"
)

// The platform's half of push-to-talk: the floor arbiter of every group
// (internal/pttsim/arbiter), fed by the world's groups and members so that an
// operator's change to burst_mode, shutup, permissions or a member's state
// applies at once, answering floor requests over MQTT (docs/protocol.md,
// "Floor control"), relaying the floor holder's voice — and nobody
// else's — to the group, and enforcing the talk time.

// FloorEvent is one floor message the simulator received or sent, for
// tests and the -v log.
type FloorEvent struct {
	Time  time.Time
	From  string // the device that sent it ("" when the platform sent it)
	To    string // the device it went to ("" when a device sent it)
	Floor wire.Floor
}

// FloorStats count the floor and the voice relay.
type FloorStats struct {
	Requests, Releases, Bad   int
	Grants, Denies, Revokes   int
	VoiceRelayed, VoiceDenied int // packets forwarded / dropped (sender not the floor holder)
	BurstsEnded               int // last packets made up for talkers the floor was taken from
}

type floorHost struct {
	mu     sync.Mutex
	arb    *arbiter.Arbiter
	relay  map[int64]*relayBurst // group → the holder's burst being relayed
	ending map[int64]*relayBurst // group → a released burst whose last packets may still come
	events []FloorEvent
	stats  FloorStats
	wake   chan struct{}
}

type relayBurst struct {
	speaker string
	burst   uint32
	next    uint32    // sequence number after the last frame relayed
	until   time.Time // ending: relayed until then
}

func newFloorHost() *floorHost {
	return &floorHost{arb: arbiter.New(), relay: map[int64]*relayBurst{}, ending: map[int64]*relayBurst{},
		wake: make(chan struct{}, 1)}
}

const maxFloorEvents = 10000

func (h *floorHost) logEvent(e FloorEvent) {
	if len(h.events) >= maxFloorEvents {
		h.events = slices.Delete(h.events, 0, len(h.events)/2)
	}
	h.events = append(h.events, e)
}

// FloorEvents returns the floor messages so far, oldest first.
func (s *Sim) FloorEvents() []FloorEvent {
	s.fl.mu.Lock()
	defer s.fl.mu.Unlock()
	return slices.Clone(s.fl.events)
}

// FloorStats returns a snapshot.
func (s *Sim) FloorStats() FloorStats {
	s.fl.mu.Lock()
	defer s.fl.mu.Unlock()
	return s.fl.stats
}

// FloorHolder says who has the floor of a group.
func (s *Sim) FloorHolder(gid int64) (string, bool) {
	s.fl.mu.Lock()
	defer s.fl.mu.Unlock()
	return s.fl.arb.Holder(gid)
}

// FloorQueue lists who waits for the floor of a group, first in line first.
func (s *Sim) FloorQueue(gid int64) []string {
	s.fl.mu.Lock()
	defer s.fl.mu.Unlock()
	return s.fl.arb.Queue(gid)
}

// floorGroups is the arbiter's view of the world (s.mu held). A member's
// priority in a group is its group priority (corp prority) when set, else
// its own (wapi priority 1–10); lower is higher. Admins — the org owner and
// the group's creator — may talk in a shutup group.
func floorGroups(w *world) []arbiter.Group {
	var out []arbiter.Group
	for _, g := range w.sortedGroups() {
		fg := arbiter.Group{ID: g.ID, BurstMode: g.BurstMode, Shutup: g.Shutup != 0,
			TalkTime: time.Duration(g.TalkTime) * time.Second}
		for _, gm := range g.Members {
			m := w.Members[gm.UserID]
			if m == nil {
				continue
			}
			prio := gm.Priority
			if prio <= 0 {
				prio = m.Priority
			}
			st := arbiter.Active
			switch m.State {
			case StatePaused:
				st = arbiter.Paused
			case StateStunned:
				st = arbiter.Stunned
			case StateKilled:
				st = arbiter.Killed
			case StateDisabled:
				st = arbiter.Disabled
			}
			fg.Members = append(fg.Members, arbiter.Member{Account: m.Num, Priority: prio,
				Admin: m.Type == TypeOwner || g.Creator == m.ID, Listener: gm.CanSpeak == "N" || gm.CallPermission == "N",
				State: st})
		}
		out = append(out, fg)
	}
	return out
}

// refreshFloor gives the arbiter the world as it is now; talkers and
// queued members who lost the right to talk are revoked or denied.
func (s *Sim) refreshFloor() {
	s.mu.Lock()
	groups := floorGroups(s.w)
	s.mu.Unlock()
	now := s.now()
	h := s.fl
	h.mu.Lock()
	var msgs []arbiter.Message
	seen := map[int64]bool{}
	for _, g := range groups {
		seen[g.ID] = true
		msgs = append(msgs, h.arb.SetGroup(g, now)...)
	}
	for _, id := range h.arb.Groups() {
		if !seen[id] {
			msgs = append(msgs, h.arb.RemoveGroup(id, now)...)
		}
	}
	h.mu.Unlock()
	s.sendFloor(msgs)
	s.kickFloor()
}

func (s *Sim) kickFloor() {
	select {
	case s.fl.wake <- struct{}{}:
	default:
	}
}

// onFloor handles a device's request or release.
func (s *Sim) onFloor(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	f, err := wire.DecodeFloor(payload)
	h := s.fl
	if err != nil || acct == "" || (f.Type != wire.FloorRequest && f.Type != wire.FloorRelease) {
		h.mu.Lock()
		h.stats.Bad++
		h.mu.Unlock()
		s.log.Warn("dropping a bad floor message", "topic", topic, "err", err, "type", f.Type)
		return
	}
	// Emergency priority is the platform's to give, from the alerts it
	// holds; whatever the device said is not taken.
	f.Emergency = f.Type == wire.FloorRequest && s.inEmergency(acct, f.Group)
	now := s.now()
	h.mu.Lock()
	h.logEvent(FloorEvent{Time: now, From: acct, Floor: f})
	if f.Type == wire.FloorRequest {
		h.stats.Requests++
	} else {
		h.stats.Releases++
		if holder, ok := h.arb.Holder(f.Group); ok && holder == acct {
			// The talker's last packets may cross its release on the way
			// here: relay them a little longer so listeners hear the end.
			if r := h.relay[f.Group]; r != nil && r.speaker == acct {
				r.until = now.Add(time.Second)
				h.ending[f.Group] = r
				delete(h.relay, f.Group)
			}
		}
	}
	msgs := h.arb.Handle(acct, f, now)
	h.mu.Unlock()
	s.log.Debug("floor", "from", acct, "type", f.Type, "group", f.Group, "req", f.Req)
	s.sendFloor(msgs)
	s.kickFloor()
}

// onPresence lets go of the floor of a device that went offline.
func (s *Sim) onPresence(topic string, payload []byte) {
	s.notePresence(topic, payload) // the console's view of presence
	acct := wire.DeviceOf(s.o.Prefix, topic)
	if acct == "" || !strings.Contains(string(payload), `"offline"`) {
		return
	}
	h := s.fl
	h.mu.Lock()
	msgs := h.arb.Drop(acct, s.now())
	h.mu.Unlock()
	s.sendFloor(msgs)
}

// sendFloor publishes the arbiter's messages; a talker whose floor was
// revoked gets its burst ended for the listeners (the last packet it will
// never send through us).
func (s *Sim) sendFloor(msgs []arbiter.Message) {
	if len(msgs) == 0 {
		return
	}
	s.pubMu.Lock()
	mq := s.mq
	s.pubMu.Unlock()
	now := s.now()
	h := s.fl
	type ending struct {
		group int64
		r     *relayBurst
	}
	var ends []ending
	h.mu.Lock()
	for i := range msgs {
		m := &msgs[i]
		if m.Floor.Type == wire.FloorIdle {
			// Say how much of the ended burst went out to the group, so a
			// listener whose link holds some of it back waits for it.
			r := h.relay[m.Floor.Group]
			if r == nil {
				r = h.ending[m.Floor.Group]
			}
			if r != nil && r.next != 0 {
				m.Floor.Burst, m.Floor.End = r.burst, r.next
			}
		}
		h.logEvent(FloorEvent{Time: now, To: m.To, Floor: m.Floor})
		switch m.Floor.Type {
		case wire.FloorGranted:
			h.stats.Grants++
		case wire.FloorDeny:
			h.stats.Denies++
		case wire.FloorRevoke:
			h.stats.Revokes++
			if r := h.relay[m.Floor.Group]; r != nil && r.speaker == m.To {
				delete(h.relay, m.Floor.Group)
				ends = append(ends, ending{m.Floor.Group, r})
				h.stats.BurstsEnded++
			}
		}
	}
	h.mu.Unlock()
	if mq == nil {
		return
	}
	for _, m := range msgs {
		mq.Publish(wire.FloorDownTopic(s.o.Prefix, m.To), 1, false, m.Floor.Encode())
		s.log.Debug("floor sent", "to", m.To, "type", m.Floor.Type, "group", m.Floor.Group, "cause", m.Floor.Cause,
			"speaker", m.Floor.Speaker, "position", m.Floor.Position)
	}
	for _, e := range ends {
		last := wire.AppendVoicePacket(nil, &wire.VoicePacket{Last: true, FrameMs: 20, Burst: e.r.burst, Seq: e.r.next})
		s.relayVoice(e.group, e.r.speaker, last)
	}
}

// onVoice relays a device's voice packet to its group when the device
// holds the group's floor.
func (s *Sim) onVoice(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	_, gs, _ := strings.Cut(strings.TrimPrefix(topic, s.o.Prefix+"/dev/"+acct+"/"), "voice/")
	gid, err := strconv.ParseInt(gs, 10, 64)
	var p wire.VoicePacket
	if err == nil {
		err = wire.DecodeVoicePacket(payload, &p)
	}
	if err != nil || acct == "" {
		s.fl.mu.Lock()
		s.fl.stats.Bad++
		s.fl.mu.Unlock()
		return
	}
	if s.admitVoice(acct, gid, &p) {
		s.relayVoice(gid, acct, payload)
	}
}

// admitVoice is the floor's decision on a voice packet, whichever way it
// came (MQTT or the UDP relay): relay it when acct holds the floor of gid,
// or its released burst is still ending.
func (s *Sim) admitVoice(acct string, gid int64, p *wire.VoicePacket) bool {
	h := s.fl
	h.mu.Lock()
	defer h.mu.Unlock()
	now := s.now()
	relay := false
	if holder, ok := h.arb.Holder(gid); ok && holder == acct {
		r := h.relay[gid]
		if r == nil || r.speaker != acct || r.burst != p.Burst {
			r = &relayBurst{speaker: acct, burst: p.Burst}
			h.relay[gid] = r
		}
		r.next = max(r.next, p.Seq+uint32(p.NFrames))
		relay = true
	} else if e := h.ending[gid]; e != nil && e.speaker == acct && e.burst == p.Burst && now.Before(e.until) {
		relay = true
	}
	if relay {
		h.stats.VoiceRelayed++
	} else {
		h.stats.VoiceDenied++
	}
	return relay
}

// relayVoice sends an admitted voice packet to the group's members: on
// the group's MQTT voice topic as always, and over UDP to the members
// whose media session listens to the group. payload is kept by MQTT.
func (s *Sim) relayVoice(gid int64, speaker string, payload []byte) {
	s.pubMu.Lock()
	mq := s.mq
	s.pubMu.Unlock()
	if mq != nil {
		mq.Publish(wire.GroupVoice(s.o.Prefix, gid, speaker), 0, false, payload)
	}
	if r := s.media.Load(); r != nil {
		r.forward(gid, speaker, payload)
	}
}

// runFloor revokes talkers at their talk time.
func (s *Sim) runFloor(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.fl.mu.Lock()
		next, ok := s.fl.arb.NextDeadline()
		s.fl.mu.Unlock()
		wait := time.Hour
		if ok {
			wait = max(0, time.Until(next))
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.fl.wake:
			t.Stop()
		case <-t.C:
			s.fl.mu.Lock()
			msgs := s.fl.arb.Tick(s.now())
			s.fl.mu.Unlock()
			s.sendFloor(msgs)
		}
	}
}
