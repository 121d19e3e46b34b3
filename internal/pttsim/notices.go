package pttsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/wire"
)

// Notices (wapi accept/event, "向指定的组织，群组或用户发送广播通知"): a
// broadcast with a title, a content and attachments, from someone, to
// orgs and users. The simulator keeps it and publishes a wapi-notice
// event (wire.EventNotice) to the device of every user it is for, in both
// event dialects.

// More wapi status codes of the seed's table.
const (
	wapiMissing = 506 // 必填参数为空
	wapiNoOrg   = 509 // 组织不存在
)

// Notice is a notice the simulator accepted.
type Notice struct {
	wire.Notice
	To []string `json:"to"` // the device accounts it was published to
}

// NoticeSpec is a notice to send: OrgIDs (the org's number, or a
// department's id) and UserIDs say to whom.
type NoticeSpec struct {
	FromID    int64
	FromName  string
	OrgIDs    []int64
	UserIDs   []int64
	Title     string
	Content   string
	Accessory []wire.NoticeAttachment
}

// SendNotice publishes a notice to every user it is for and returns its
// id. ErrNoMember or errNoOrg when none of its addressees exists.
func (s *Sim) SendNotice(spec NoticeSpec) (int64, error) {
	if spec.FromID == 0 || spec.FromName == "" || spec.Title == "" || spec.Content == "" ||
		len(spec.OrgIDs)+len(spec.UserIDs) == 0 {
		return 0, fmt.Errorf("%w: from.id, from.name, to, title and content are required", errMissing)
	}
	s.mu.Lock()
	var to []string
	add := func(m *Member) {
		if m != nil && !slices.Contains(to, m.Num) {
			to = append(to, m.Num)
		}
	}
	orgs := 0
	for _, oid := range spec.OrgIDs {
		switch {
		case oid == s.w.OrgNum:
			orgs++
			for _, m := range s.w.sortedMembers() {
				add(m)
			}
		case s.w.Depts[oid] != "":
			orgs++
			for _, m := range s.w.sortedMembers() {
				if m.DeptID == oid {
					add(m)
				}
			}
		}
	}
	for _, uid := range spec.UserIDs {
		add(s.w.Members[uid])
	}
	if len(to) == 0 {
		s.mu.Unlock()
		if orgs == 0 && len(spec.UserIDs) == 0 {
			return 0, errNoOrg
		}
		return 0, fmt.Errorf("%w: none of the notice's users or orgs has members", ErrNoMember)
	}
	s.x.nextNotice++
	n := Notice{Notice: wire.Notice{ID: s.x.nextNotice, Time: s.now().Unix(),
		From:  wire.NoticeFrom{ID: spec.FromID, Name: spec.FromName},
		Title: spec.Title, Content: spec.Content, Accessory: slices.Clone(spec.Accessory)}, To: to}
	s.x.notices = append(s.x.notices, n)
	s.mu.Unlock()
	s.publishEvent(wire.EventNotice, n.Notice, to)
	s.log.Info("notice sent", "id", n.ID, "from", spec.FromName, "title", spec.Title, "to", len(to))
	return n.ID, nil
}

// Notices lists the notices accepted so far, oldest first.
func (s *Sim) Notices() []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.x.notices)
}

var (
	errMissing = fmt.Errorf("%w: a required field is empty", ErrBadRequest)
	errNoOrg   = fmt.Errorf("%w: no such org", ErrBadRequest)
)

// wapiAcceptEvent serves accept/event:
//
//	{"from":{"id":1,"name":"Dispatch"},"to":{"orgIds":[100130],"userIds":[1253402]},
//	 "title":"…","content":"…","accessory":[{"name":"map.pdf","url":"…"}]}
//
// Values may come as strings (the seed says every value does).
func (s *Sim) wapiAcceptEvent(w http.ResponseWriter, body []byte) {
	var q struct {
		From struct {
			ID   httpapi.Int `json:"id"`
			Name string      `json:"name"`
		} `json:"from"`
		To struct {
			OrgIDs  []httpapi.Int `json:"orgIds"`
			UserIDs []httpapi.Int `json:"userIds"`
		} `json:"to"`
		Title     string                  `json:"title"`
		Content   string                  `json:"content"`
		Accessory []wire.NoticeAttachment `json:"accessory"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		wapiReply(w, wapiBadParam, "参数错误: "+err.Error(), nil)
		return
	}
	spec := NoticeSpec{FromID: int64(q.From.ID), FromName: q.From.Name, Title: q.Title, Content: q.Content, Accessory: q.Accessory}
	for _, id := range q.To.OrgIDs {
		spec.OrgIDs = append(spec.OrgIDs, int64(id))
	}
	for _, id := range q.To.UserIDs {
		spec.UserIDs = append(spec.UserIDs, int64(id))
	}
	for _, a := range spec.Accessory {
		if a.Name == "" || a.URL == "" {
			wapiReply(w, wapiMissing, "必填参数为空: accessory name, url", nil)
			return
		}
	}
	_, err := s.SendNotice(spec)
	switch {
	case err == nil:
		wapiReply(w, wapiOK, "", nil)
	case errors.Is(err, errNoOrg):
		wapiReply(w, wapiNoOrg, "组织不存在", nil)
	case errors.Is(err, errMissing):
		wapiReply(w, wapiMissing, "必填参数为空: "+err.Error(), nil)
	default:
		wapiErr(w, err)
	}
}

// publishEvent publishes an event of the simulator's own (a notice, a
// forwarded webhook, a terminal's news) to accounts, whatever the event
// dialect of the operators' changes.
func (s *Sim) publishEvent(msgType string, content any, to []string) {
	if len(to) == 0 {
		return
	}
	b, err := json.Marshal(content)
	if err != nil {
		s.log.Error("pttsim event", "err", err)
		return
	}
	s.pubMu.Lock()
	pub := s.pub
	s.pubMu.Unlock()
	s.mu.Lock()
	s.w.NextMsg++
	ev := wire.Event{MsgID: s.w.NextMsg, MsgType: msgType, Timestamp: s.now().Unix(), Transfer: true, Content: b}
	if pub == nil {
		s.stats.EventsDropped++
	} else {
		s.stats.EventsPublished += len(to)
	}
	s.mu.Unlock()
	if pub == nil {
		return
	}
	payload := ev.Encode()
	for _, acct := range to {
		pub(wire.EventTopic(s.o.Prefix, acct), payload)
		s.log.Debug("event published", "to", acct, "msg_type", ev.MsgType, "msg_id", ev.MsgID)
	}
}
