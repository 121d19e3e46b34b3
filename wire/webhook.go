package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// WapiIDs is the content of the wapi events (EventWapiOrgUpdate, …): the
// body of the wapi seed's section 3.2–3.5 webhooks, {"id":[…]}, which
// name the orgs or users that changed, not how. The platform receives
// the webhook (a handset behind a carrier's NAT cannot) and forwards the
// body in the event envelope, QoS 1, to each device concerned:
//
//	{"msg_id":173614450,"msg_type":"wapi-user-update","timestamp":1736146058,"transfer":true,
//	 "content":{"id":[1253402,1253403]}}
type WapiIDs struct {
	ID []int64 `json:"id"`
}

// MaxWapiIDs bounds the ids of one event.
const MaxWapiIDs = 10000

// DecodeWapiIDs reads a wapi event's content.
func DecodeWapiIDs(content json.RawMessage) ([]int64, error) {
	var v WapiIDs
	if err := json.Unmarshal(content, &v); err != nil {
		return nil, fmt.Errorf("decode wapi event: %w", err)
	}
	if len(v.ID) == 0 {
		return nil, errors.New("decode wapi event: no id")
	}
	if len(v.ID) > MaxWapiIDs {
		return nil, fmt.Errorf("decode wapi event: %d ids, more than %d", len(v.ID), MaxWapiIDs)
	}
	return v.ID, nil
}
