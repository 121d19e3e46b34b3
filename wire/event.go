package wire

import (
	"encoding/json"
	"errors"
)

// Event is a platform event pushed to a handset, in the corp seed's shape:
//
//	{"content":{"group":{...}},"msg_id":486,"msg_type":"corp-group-change","timestamp":1731493671,"transfer":true}
//
// The platform publishes it (QoS 1, not retained) on Topics.Event of every
// device the change concerns, so a handset subscribes to one topic whose
// name it already knows and a broker ACL stays one pattern (see
// docs/protocol.md). Content depends on MsgType.
type Event struct {
	MsgID     int64           `json:"msg_id"`
	MsgType   string          `json:"msg_type"`
	Timestamp int64           `json:"timestamp"` // Unix seconds
	Content   json.RawMessage `json:"content"`
	Transfer  bool            `json:"transfer"`
}

// Corp dialect event types. The seed shows corp-group-change; the others
// follow its naming, one per management operation that changes what a
// handset sees.
const (
	EventGroupChange       = "corp-group-change"        // content {"group":{group-getall item}}
	EventGroupDelete       = "corp-group-delete"        // content {"group":{"id":…}}
	EventGroupMemberAdd    = "corp-group-member-add"    // content {"group":{…},"members":[{"user_id":…},…]}
	EventGroupMemberChange = "corp-group-member-change" // content {"group":{…},"members":[{"user_id","prority","tts","loc_share"}]}
	EventGroupMemberDelete = "corp-group-member-delete" // content {"group":{…},"members":[{"user_id":…}]}
	EventMemberChange      = "corp-member-change"       // content {"member":{address-list member}}
	EventMemberStateChange = "corp-member-state-change" // content {"member":{"user_id":…,"state":…}}
	EventMemberDelete      = "corp-member-delete"       // content {"member":{"user_id":…}}
)

// Wapi dialect event types: the seed's section 3 events (org update/delete,
// user update/delete), whose body is {"id":[…]}, carried in the same
// envelope. They name what changed, not how: a handset refetches.
const (
	EventWapiOrgUpdate  = "wapi-org-update"
	EventWapiOrgDelete  = "wapi-org-delete"
	EventWapiUserUpdate = "wapi-user-update"
	EventWapiUserDelete = "wapi-user-delete"
)

// Event carries platform events for this device, QoS 1, not retained.
func (t Topics) Event() string { return t.dev("event") }

// EventTopic is the event topic of account, for the platform side.
func EventTopic(prefix, account string) string {
	return Topics{Prefix: prefix, Account: account}.Event()
}

// MaxEventSize bounds an event payload; anything larger is refused before
// it is parsed (a broker may carry 256 MB).
const MaxEventSize = 1 << 20

// Encode returns the JSON of e.
func (e Event) Encode() []byte {
	b, _ := json.Marshal(e)
	return b
}

// DecodeEvent parses an event and checks the envelope: a msg_id and a
// msg_type are required, content must be a JSON object or absent.
func DecodeEvent(payload []byte) (Event, error) {
	e, err := decodeJSON[Event]("event", payload, MaxEventSize)
	if err != nil {
		return e, err
	}
	if e.MsgType == "" {
		return Event{}, errors.New("decode event: no msg_type")
	}
	if e.MsgID == 0 {
		return Event{}, errors.New("decode event: no msg_id")
	}
	if len(e.Content) > 0 && e.Content[0] != '{' && string(e.Content) != "null" {
		return Event{}, errors.New("decode event: content is not an object")
	}
	return e, nil
}
