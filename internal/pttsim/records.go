package pttsim

import (
	"encoding/json"
	"fmt"

	"github.com/pttagent/pttagent/wire"
)

// Recordings and text messages: a handset reports each uploaded talk
// burst on {prefix}/dev/{account}/record (docs/protocol.md,
// "Recordings"); the simulator turns a report into a type 3 voice message
// in the group's history (message-get-group-history-message) and an audio
// record (wapi ptt/audioRecord), once per (device, burst, begin). Text
// messages an operator sends to a group go into its history and, as a
// corp-group-message event, to every member.

type recordKey struct {
	account string
	burst   uint32
	begin   int64
}

// onRecord stores a recording report.
func (s *Sim) onRecord(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	r, err := wire.DecodeRecordReport(payload)
	if err != nil || acct == "" {
		s.mu.Lock()
		s.stats.RecordsBad++
		s.mu.Unlock()
		s.log.Warn("dropping a bad recording report", "topic", topic, "err", err)
		return
	}
	s.mu.Lock()
	k := recordKey{acct, r.Burst, r.BeginMs}
	if s.recordSeen[k] {
		s.stats.RecordDuplicates++
		s.mu.Unlock()
		return
	}
	m := s.w.byNum(acct)
	g := s.w.Groups[r.Group]
	if m == nil || g == nil {
		s.stats.RecordsBad++
		s.mu.Unlock()
		s.log.Warn("recording report for an unknown member or group", "account", acct, "group", r.Group)
		return
	}
	s.recordSeen[k] = true
	s.stats.Records++
	uid, gname := m.ID, g.Name
	s.mu.Unlock()

	// The seed's voice messages give whole seconds (".../1253539_1736145940_8?duration=8").
	secs := max(1, (r.DurationMs+999)/1000)
	s.AppendMessage(r.Group, Message{UserID: uid, Created: r.BeginMs / 1000, Type: 3,
		Content: map[string]any{"url": r.URL, "duration": secs}})
	if r.GroupName != "" {
		gname = r.GroupName
	}
	s.AppendAudioRecord(AudioRecord{UserID: uid, Account: acct, BeginTime: r.BeginMs, DurationMs: r.DurationMs,
		GroupName: gname, FileURL: r.URL})
	s.log.Info("recording stored", "account", acct, "group", r.Group, "duration_ms", r.DurationMs, "url", r.URL)
}

// SendText adds a text message from member uid to a group's history and
// pushes it to the group's members as a corp-group-message event. It
// returns the message's msg_id.
func (s *Sim) SendText(gid, uid int64, text string) (int64, error) {
	if text == "" {
		return 0, fmt.Errorf("%w: empty text", ErrBadRequest)
	}
	m, ok := s.Member(uid)
	if !ok {
		return 0, ErrNoMember
	}
	now := s.now()
	id, err := s.AppendMessage(gid, Message{UserID: uid, Created: now.Unix(), Type: 0, Content: text})
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	g := s.w.Groups[gid]
	var to []string
	var gname string
	if g != nil {
		to, gname = s.w.accounts(g.uids()...), g.Name
	}
	s.w.NextMsg++
	evID := s.w.NextMsg
	s.mu.Unlock()
	content, _ := json.Marshal(map[string]any{
		"group":   map[string]any{"id": gid, "name": gname},
		"message": map[string]any{"msg_id": id, "user_id": uid, "created": now.Unix(), "type": 0, "content": text},
		"user":    map[string]any{"user_id": uid, "user_num": m.Num, "name": m.Name},
	})
	ev := wire.Event{MsgID: evID, MsgType: wire.EventGroupMessage, Timestamp: now.Unix(), Transfer: true, Content: content}
	s.pubMu.Lock()
	pub := s.pub
	s.pubMu.Unlock()
	if pub != nil {
		payload := ev.Encode()
		for _, acct := range to {
			pub(wire.EventTopic(s.o.Prefix, acct), payload)
		}
	}
	s.mu.Lock()
	s.stats.EventsPublished += len(to)
	s.mu.Unlock()
	return id, nil
}
