package wire

import (
	"encoding/json"
	"fmt"
)

// PlatformCapsTopic is where the platform says what it understands: one
// retained message for every device (docs/protocol.md, "Platform
// capabilities").
func PlatformCapsTopic(prefix string) string { return prefix + "/platform/caps" }

// PlatformCaps is the platform's retained capabilities message.
type PlatformCaps struct {
	V int `json:"v"` // 1
	// TrackVersions are the track batch versions the platform decodes:
	// 1 (JSON) always, 2 (CBOR) if it reads AppendTrackBatchCBOR's.
	TrackVersions []int `json:"track_versions"`
	// VoiceCopy: a device may open a second, listen-only connection with
	// the login VoiceLogin(its username) and its own password, for a copy
	// of its group's voice (docs/protocol.md, "Voice copy").
	VoiceCopy bool  `json:"voice_copy,omitempty"`
	Time      int64 `json:"ts,omitempty"`
}

// VoiceLogin is the username (and client id) of a device's voice copy
// connection: its own username and "/voice". No device account holds a
// "/" (the account is a level of every device topic), so the login can
// be no other device's, and where the broker makes the username the
// client id (use_username_as_clientid) it takes no other connection
// over.
func VoiceLogin(username string) string { return username + "/voice" }

// maxCaps bounds the message: a few fields.
const maxCaps = 1024

// DecodePlatformCaps parses and checks a capabilities message.
func DecodePlatformCaps(payload []byte) (PlatformCaps, error) {
	c, err := decodeJSON[PlatformCaps]("platform caps", payload, maxCaps)
	if err != nil {
		return c, err
	}
	if c.V != 1 {
		return PlatformCaps{}, fmt.Errorf("decode platform caps: version %d, want 1", c.V)
	}
	if len(c.TrackVersions) > 16 {
		return PlatformCaps{}, fmt.Errorf("decode platform caps: %d track versions", len(c.TrackVersions))
	}
	return c, nil
}

// Reads says whether the platform decodes track batches of version v.
func (c PlatformCaps) Reads(v int) bool {
	for _, x := range c.TrackVersions {
		if x == v {
			return true
		}
	}
	return false
}

func (c PlatformCaps) Encode() []byte {
	b, _ := json.Marshal(c)
	return b
}
