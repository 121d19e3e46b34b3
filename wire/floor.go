package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Floor control messages, after 3GPP TS 24.380 (MCPTT floor control),
// carried as small JSON objects. A handset sends request and release on
// Topics.FloorUp; the platform's floor arbiter answers on Topics.FloorDown
// of each member concerned.
type FloorType string

const (
	FloorRequest FloorType = "request" // device: I want to talk in Group
	FloorRelease FloorType = "release" // device: I am done (or: cancel my queued request)
	FloorGranted FloorType = "granted" // platform: talk now, for at most TalkTime seconds
	FloorDeny    FloorType = "deny"    // platform: no, because Cause
	FloorQueued  FloorType = "queued"  // platform: you are Position in the queue
	FloorRevoke  FloorType = "revoke"  // platform: stop talking now, because Cause
	FloorIdle    FloorType = "idle"    // platform: nobody talks in Group
	FloorTaken   FloorType = "taken"   // platform: Speaker talks in Group (to the other members)
)

// Causes of deny and revoke. TS 24.380 numbers them; names travel here
// because they are what a log reader needs. The TS 24.380 number is given
// where one exists.
const (
	CauseTaken        = "taken"         // deny #1: another member has the floor (burst_mode 1, or 2 without higher priority)
	CauseNoPermission = "no-permission" // deny #5 receive only: canSpeak/callPermission N
	CauseMuted        = "muted"         // group shutup: only admins may talk
	CauseMemberState  = "member-state"  // member paused, stunned, killed or disabled: no PTT at all
	CauseNotMember    = "not-member"    // the device is not in the group
	CauseQueueFull    = "queue-full"    // deny #6 no resources
	CausePreempted    = "preempted"     // revoke #4: a higher-priority member took the floor
	CauseTalkTime     = "talk-time"     // revoke #2: the talk-time limit passed
	CauseEmergency    = "emergency"     // revoke: a member in an emergency took the floor (MCPTT emergency group call)
	CauseTimeout      = "timeout"       // client side: no answer from the platform
)

// Floor is one floor control message. Fields that do not belong to Type
// are left zero and omitted.
type Floor struct {
	V    int       `json:"v"`
	Type FloorType `json:"type"`
	// Group is the platform's group id the message is about.
	Group int64 `json:"group"`
	// Req is the device's request number, echoed in the answers to it, so
	// a late answer to an earlier request is recognised and ignored.
	Req uint32 `json:"req,omitempty"`
	// TalkTime (granted) is the longest the device may talk, in seconds; 0
	// means the platform sets no limit (the device applies its configured
	// default).
	TalkTime int `json:"talk_time,omitempty"`
	// Cause (deny, revoke) says why.
	Cause string `json:"cause,omitempty"`
	// Position (queued) is 1 for the next in line.
	Position int `json:"position,omitempty"`
	// Speaker (taken, granted) is the account that has the floor.
	Speaker string `json:"speaker,omitempty"`
	// Burst (granted, taken) is the voice burst id the speaker will use,
	// when the platform knows it; 0 otherwise. On idle: the burst that
	// just ended, with End.
	Burst uint32 `json:"burst,omitempty"`
	// End (idle) is one past the last frame of Burst the platform relayed
	// to the group: a listener whose link held those frames back waits
	// for them instead of ending the burst without them.
	End uint32 `json:"end,omitempty"`
	// Emergency (granted, taken) says the floor is held in an emergency
	// call: the speaker raised an emergency alert (see Emergency). The
	// platform sets it from the alerts it holds, never from a request.
	Emergency bool `json:"emergency,omitempty"`
	// TimeMs is the sender's Unix time in milliseconds.
	TimeMs int64 `json:"ts,omitempty"`
}

// MaxFloorSize bounds a floor payload; larger ones are refused unparsed.
const MaxFloorSize = 4096

// MaxTalkTime bounds talk_time, in seconds (a day). A larger one once
// overflowed into a negative limit on the handset: no timer at all.
const MaxTalkTime = 86400

// MaxPosition bounds a queue position.
const MaxPosition = 1 << 20

func (f Floor) Encode() []byte {
	f.V = 1
	b, _ := json.Marshal(f)
	return b
}

// DecodeFloor parses and checks a floor message.
func DecodeFloor(payload []byte) (Floor, error) {
	f, err := decodeJSON[Floor]("floor", payload, MaxFloorSize)
	if err != nil {
		return f, err
	}
	if f.V != 1 {
		return Floor{}, fmt.Errorf("decode floor: version %d not supported", f.V)
	}
	switch f.Type {
	case FloorRequest, FloorRelease, FloorGranted, FloorIdle, FloorTaken, FloorQueued:
	case FloorDeny, FloorRevoke:
		if f.Cause == "" {
			return Floor{}, fmt.Errorf("decode floor: %s without a cause", f.Type)
		}
	default:
		return Floor{}, fmt.Errorf("decode floor: unknown type %q", f.Type)
	}
	if f.Group <= 0 {
		return Floor{}, errors.New("decode floor: no group")
	}
	if f.TalkTime < 0 || f.TalkTime > MaxTalkTime {
		return Floor{}, fmt.Errorf("decode floor: talk_time %d, want 0 … %d s", f.TalkTime, MaxTalkTime)
	}
	if f.Position < 0 || f.Position > MaxPosition {
		return Floor{}, fmt.Errorf("decode floor: position %d, want 0 … %d", f.Position, MaxPosition)
	}
	if f.Type == FloorQueued && f.Position == 0 {
		return Floor{}, errors.New("decode floor: queued without a position")
	}
	switch f.Type {
	case FloorGranted, FloorDeny, FloorQueued:
		// An answer names the request it answers; one that does not could
		// open the microphone for a request never made.
		if f.Req == 0 {
			return Floor{}, fmt.Errorf("decode floor: %s without req", f.Type)
		}
	}
	return f, nil
}

// FloorUp carries the device's floor requests and releases, QoS 1.
func (t Topics) FloorUp() string { return t.dev("floor") }

// FloorDown carries the platform's floor messages to this device, QoS 1.
func (t Topics) FloorDown() string { return t.dev("floor/ctl") }

// AllFloorUp is the arbiter's subscription to every device's requests.
func AllFloorUp(prefix string) string { return prefix + "/dev/+/floor" }

// FloorDownTopic is the floor control topic of account, for the platform.
func FloorDownTopic(prefix, account string) string {
	return Topics{Prefix: prefix, Account: account}.FloorDown()
}
