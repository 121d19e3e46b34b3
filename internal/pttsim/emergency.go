package pttsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// The platform's half of the SOS key (docs/protocol.md, "Emergency"): it
// records each device's alert and its cancel (once per device, alert id
// and type, however often the device sends them), acknowledges every
// message on the device's emergency/ctl, gives the device's floor
// requests in the alert's group emergency priority while the alert
// stands (the arbiter's emergency rule), reports each alert and cancel to
// Options.EmergencyWebhook as a seed 003 §3.1 event report (emergency_hook.go),
// and lists the alerts at /wapi/emergency/list.

// Emergency is one device's alert as the platform keeps it.
type Emergency struct {
	// ID is the platform's event id (the §3.1 report's id); Code pairs
	// the alert's report with its cancel's.
	ID   int64  `json:"id"`
	Code string `json:"code"`
	// AlertID is the device's id of the alert.
	AlertID   string `json:"alertId"`
	Account   string `json:"account"`
	UserID    int64  `json:"userId"`
	Name      string `json:"name"`
	Group     int64  `json:"group,omitempty"`
	GroupName string `json:"groupName,omitempty"`
	// Raised and Cancelled are when the device's key was pressed (Unix
	// ms; Cancelled 0 while the alert stands); Received when the alert
	// reached the platform.
	Raised    int64 `json:"raised"`
	Received  int64 `json:"received"`
	Cancelled int64 `json:"cancelled"`
	// State is "active" or "cancelled".
	State string `json:"state"`
	// Position is where the device was at the press, in wapi's shape
	// (getLatestCoords), with FixAge the age of its fix then; nil when it
	// had none.
	Position *EmergencyPosition `json:"position,omitempty"`
	FixAge   int64              `json:"fixAge,omitempty"`
	// Reports are the §3.1 event reports made of it (the alert's, then
	// the cancel's), as the webhook gets them.
	Reports []EventReport `json:"reports"`
}

// EmergencyPosition is a position as wapi's getLatestCoords gives one.
type EmergencyPosition struct {
	PositionType int        `json:"positionType"`
	X            float64    `json:"x"` // latitude
	Y            float64    `json:"y"` // longitude
	Speed        *float64   `json:"speed,omitempty"`
	Altitude     *float64   `json:"altitude,omitempty"`
	Bearing      *float64   `json:"bearing,omitempty"`
	Time         int64      `json:"time"` // Unix ms of the fix
	Location     [2]float64 `json:"location"`
}

// EmergencyStats count the emergency messages.
type EmergencyStats struct {
	Alerts, Cancels, Duplicates, Bad int
	// Webhook: reports delivered (2xx), failed attempts, waiting.
	WebhookSent, WebhookFailures, WebhookWaiting int
	WebhookLastError                             string
}

type emergencyDesk struct {
	mu     sync.Mutex
	alerts []*Emergency          // oldest first
	by     map[string]*Emergency // account + "/" + alert id
	stats  EmergencyStats
	hook   webhook
}

func newEmergencyDesk(webhook, token string) *emergencyDesk {
	d := &emergencyDesk{by: map[string]*Emergency{}}
	d.hook.url, d.hook.token, d.hook.wake = webhook, token, make(chan struct{}, 1)
	return d
}

// Emergencies lists the alerts received, oldest first.
func (s *Sim) Emergencies() []Emergency {
	d := s.em
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Emergency, len(d.alerts))
	for i, a := range d.alerts {
		out[i] = *a
		out[i].Reports = slices.Clone(a.Reports)
	}
	return out
}

// EmergencyStats returns a snapshot.
func (s *Sim) EmergencyStats() EmergencyStats {
	d := s.em
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats
	st.WebhookWaiting = len(d.hook.queue)
	return st
}

// inEmergency says whether account's alert for group stands: its floor
// requests there are emergency calls.
func (s *Sim) inEmergency(account string, group int64) bool {
	d := s.em
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.alerts {
		if a.Account == account && a.Group == group && a.Cancelled == 0 {
			return true
		}
	}
	return false
}

// onEmergency handles a device's alert or cancel.
func (s *Sim) onEmergency(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	m, err := wire.DecodeEmergency(payload)
	d := s.em
	if err != nil || acct == "" || m.Type == wire.EmergencyAck {
		d.mu.Lock()
		d.stats.Bad++
		d.mu.Unlock()
		s.log.Warn("dropping a bad emergency message", "topic", topic, "err", err, "type", m.Type)
		return
	}
	now := s.now()
	// Who and where, from the world (an account the platform does not
	// know is recorded all the same: an alert is never dropped for a
	// directory that is behind).
	s.mu.Lock()
	var uid int64
	name, groupName := acct, ""
	if mem := s.w.byNum(acct); mem != nil {
		uid, name = mem.ID, mem.Name
	}
	if g := s.w.Groups[m.Group]; g != nil {
		groupName = g.Name
	}
	orgID, orgName := s.w.OrgNum, s.w.OrgName
	s.mu.Unlock()

	d.mu.Lock()
	k := acct + "/" + m.ID
	a := d.by[k]
	var report *EventReport
	endEmergency := false
	switch {
	case m.Type == wire.EmergencyAlert && a == nil:
		d.stats.Alerts++
		a = &Emergency{Code: "SOS-" + acct + "-" + m.ID, AlertID: m.ID, Account: acct, UserID: uid, Name: name,
			Group: m.Group, GroupName: groupName, Raised: m.TimeMs, Received: now.UnixMilli(), State: "active"}
		a.ID = int64(len(d.alerts)) + 1
		if m.Fix != nil {
			a.Position, a.FixAge = wapiPosition(m.Fix), m.Fix.Age
		}
		d.alerts = append(d.alerts, a)
		d.by[k] = a
		r := a.report(false, orgID, orgName)
		report = &r
	case m.Type == wire.EmergencyCancel && (a == nil || a.Cancelled == 0):
		d.stats.Cancels++
		if a == nil {
			// The alert was acknowledged before this platform lost it (a
			// restart): the cancel alone still says who and when.
			a = &Emergency{Code: "SOS-" + acct + "-" + m.ID, AlertID: m.ID, Account: acct, UserID: uid, Name: name,
				Group: m.Group, GroupName: groupName, Received: now.UnixMilli()}
			a.ID = int64(len(d.alerts)) + 1
			d.alerts = append(d.alerts, a)
			d.by[k] = a
		}
		a.Cancelled, a.State = m.TimeMs, "cancelled"
		r := a.report(true, orgID, orgName)
		report = &r
		endEmergency = true
	default:
		d.stats.Duplicates++
	}
	if report != nil {
		a.Reports = append(a.Reports, *report)
		if d.hook.url != "" {
			d.hook.queue = append(d.hook.queue, *report)
			d.hook.poke()
		}
	}
	d.mu.Unlock()

	if report != nil {
		s.log.Warn("emergency", "type", m.Type, "account", acct, "name", name, "group", m.Group, "id", m.ID,
			"fix", m.Fix != nil)
	}
	if endEmergency {
		h := s.fl
		h.mu.Lock()
		msgs := h.arb.EndEmergency(acct, now)
		h.mu.Unlock()
		s.sendFloor(msgs)
	}
	// Every copy is acknowledged: the device sends it until one arrives.
	s.pubMu.Lock()
	mq := s.mq
	s.pubMu.Unlock()
	if mq != nil {
		mq.Publish(wire.EmergencyCtlTopic(s.o.Prefix, acct), 1, false,
			wire.Emergency{Type: wire.EmergencyAck, ID: m.ID, Of: m.Type, TimeMs: now.UnixMilli()}.Encode())
	}
}

func wapiPosition(f *wire.EmergencyFix) *EmergencyPosition {
	return &EmergencyPosition{X: f.Latitude, Y: f.Longitude, Speed: f.Speed, Altitude: f.Altitude, Bearing: f.Bearing,
		Time: f.Created * 1000, Location: [2]float64{f.Longitude, f.Latitude}}
}

// handleEmergencyList is /wapi/emergency/list (pttsim's own, beside the
// seed's calls): the alerts, newest first, in wapi's envelope.
func (s *Sim) handleEmergencyList(w http.ResponseWriter, r *http.Request) {
	if s.wapiAuth(w, r) == nil {
		return
	}
	list := s.Emergencies()
	slices.Reverse(list)
	if v := r.URL.Query().Get("account"); v != "" {
		list = slices.DeleteFunc(list, func(e Emergency) bool { return e.Account != v })
	}
	if r.URL.Query().Get("active") == "1" {
		list = slices.DeleteFunc(list, func(e Emergency) bool { return e.Cancelled != 0 })
	}
	wapiReply(w, wapiOK, "成功", map[string]any{"total": len(list), "records": list})
}

// report is the seed 003 §3.1 event report of the alert (or of its
// cancel).
func (a *Emergency) report(cancel bool, orgID int64, orgName string) EventReport {
	r := EventReport{Code: a.Code, Type: EventTypeEmergency, Level: EventLevelEmergency,
		Topic: "SOS: " + a.Name, Address: ""}
	r.ID = a.ID * 2
	if cancel {
		r.ID++
		r.Type, r.Topic = EventTypeEmergencyCancel, "SOS cancelled: "+a.Name
	}
	r.From.ID, r.From.Account, r.From.Name = a.UserID, a.Account, a.Name
	if a.Group != 0 {
		r.To.ID, r.To.Name = strconv.FormatInt(a.Group, 10), a.GroupName
	} else {
		r.To.ID, r.To.Name = strconv.FormatInt(orgID, 10), orgName
	}
	when := a.Raised
	if cancel {
		when = a.Cancelled
	}
	at := time.UnixMilli(when).UTC().Format(time.RFC3339)
	where := "no position known"
	if p := a.Position; p != nil {
		where = fmt.Sprintf("position %.6f, %.6f (WGS-84, fix %d s old at the press)", p.X, p.Y, a.FixAge)
		if p.Speed != nil {
			where += fmt.Sprintf(", %.0f km/h", *p.Speed)
		}
		r.Address = fmt.Sprintf("WGS-84 %.6f, %.6f", p.X, p.Y)
	}
	group := "no group"
	if a.Group != 0 {
		group = "group " + a.GroupName
	}
	if cancel {
		raised := "earlier"
		if a.Raised > 0 {
			raised = "at " + time.UnixMilli(a.Raised).UTC().Format(time.RFC3339)
		}
		r.Content = fmt.Sprintf("%s (%s) cancelled the emergency alert raised %s (%s), at %s.", a.Name, a.Account,
			raised, group, at)
	} else {
		r.Content = fmt.Sprintf("Emergency alert from %s (%s), %s, at %s: %s.", a.Name, a.Account, group, at, where)
	}
	return r
}
