package pttsim

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"

	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/wire"
)

// Webhooks (wapi seed section 三, 3.2–3.5): the platform POSTs
// {"id":[…]} with a token header to a URL of the receiver's choosing when
// an org or a user is updated or deleted. A handset behind a carrier's
// NAT cannot be that URL; the simulator is, and forwards each webhook as
// an event to the devices concerned, which then fetch
// (docs/protocol.md, "Webhook events"). Served at
// POST /webhook/wapi/{org-update,org-delete,user-update,user-delete},
// token = Options.WebhookToken (no token configured: not served).

var webhookEvents = map[string]string{
	"org-update":  wire.EventWapiOrgUpdate,
	"org-delete":  wire.EventWapiOrgDelete,
	"user-update": wire.EventWapiUserUpdate,
	"user-delete": wire.EventWapiUserDelete,
}

// WebhookStats count the webhooks received.
type WebhookStats struct {
	Received, Refused, Forwarded int // forwarded: events published (one per device)
	Unknown                      int // ids the simulator does not know
}

// handleWebhook receives one of the platform's webhooks.
func (s *Sim) handleWebhook(w http.ResponseWriter, r *http.Request) {
	msgType, ok := webhookEvents[r.PathValue("event")]
	if !ok || s.o.WebhookToken == "" {
		w.WriteHeader(http.StatusNotFound)
		wapiReply(w, wapiBadParam, "no such webhook", nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("token")), []byte(s.o.WebhookToken)) != 1 {
		s.mu.Lock()
		s.x.hooks.Refused++
		s.mu.Unlock()
		wapiReply(w, wapiNotLoggedIn, "未登录", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var q struct {
		ID []httpapi.Int `json:"id"`
	}
	if err == nil {
		err = json.Unmarshal(body, &q)
	}
	if err != nil || len(q.ID) == 0 || len(q.ID) > wire.MaxWapiIDs {
		wapiReply(w, wapiMissing, "必填参数为空: id[]", nil)
		return
	}
	ids := make([]int64, len(q.ID))
	for i, v := range q.ID {
		ids[i] = int64(v)
	}
	to := s.webhookAudience(msgType, ids)
	s.mu.Lock()
	s.x.hooks.Received++
	s.x.hooks.Forwarded += len(to)
	s.mu.Unlock()
	s.publishEvent(msgType, wire.WapiIDs{ID: ids}, to)
	s.log.Info("webhook forwarded", "event", msgType, "ids", len(ids), "devices", len(to))
	wapiReply(w, wapiOK, "", nil)
}

// webhookAudience is who must hear of a change: for users, each user and
// the members of its groups (their member lists changed); for orgs, every
// member of the org (or of the department).
func (s *Sim) webhookAudience(msgType string, ids []int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var uids []int64
	for _, id := range ids {
		switch msgType {
		case wire.EventWapiUserUpdate, wire.EventWapiUserDelete:
			if s.w.Members[id] == nil {
				s.x.hooks.Unknown++
				continue
			}
			uids = append(uids, id)
			for _, g := range s.w.groupsOf(id) {
				uids = append(uids, g.uids()...)
			}
		default:
			known := false
			for _, m := range s.w.sortedMembers() {
				if id == s.w.OrgNum || (m.DeptID == id && s.w.Depts[id] != "") {
					uids, known = append(uids, m.ID), true
				}
			}
			if !known {
				s.x.hooks.Unknown++
			}
		}
	}
	slices.Sort(uids)
	return s.w.accounts(slices.Compact(uids)...)
}

// WebhookStats returns a snapshot.
func (s *Sim) WebhookStats() WebhookStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.x.hooks
}
