package wire

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Topics names every MQTT topic of one device. A device publishes only
// below {prefix}/dev/{account}/, which the broker enforces by the device's
// login (deploy/mosquitto/pttagent.acl).
type Topics struct {
	Prefix  string
	Account string
}

func (t Topics) dev(leaf string) string {
	return t.Prefix + "/dev/" + t.Account + "/" + leaf
}

// Track carries batches of track points, QoS 1, not retained.
func (t Topics) Track() string { return t.dev("track") }

// Status carries presence, QoS 1, retained; the broker publishes the
// offline last will when the device vanishes.
func (t Topics) Status() string { return t.dev("status") }

// AllTracks is the subscription of a platform that collects every device's tracks.
func AllTracks(prefix string) string { return prefix + "/dev/+/track" }

// AllStatus is the subscription of a platform that follows presence.
func AllStatus(prefix string) string { return prefix + "/dev/+/status" }

// DeviceOf returns the account segment of a device topic, or "".
func DeviceOf(prefix, topic string) string {
	rest, ok := strings.CutPrefix(topic, prefix+"/dev/")
	if !ok {
		return ""
	}
	acct, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return acct
}

// Presence is the retained status payload.
type Presence struct {
	State   string `json:"state"`             // "online" or "offline"
	Time    int64  `json:"ts,omitempty"`      // Unix seconds; absent in the last will
	Version string `json:"version,omitempty"` // agent version, when online
	Reason  string `json:"reason,omitempty"`  // "shutdown" on a clean stop; absent in the last will
	// Group is the device's active group, when online: the platform
	// answers who is listening to a group (wapi group/cgt/inThisGroupUids)
	// from it. The device publishes its presence again when it changes.
	Group int64 `json:"group,omitempty"`
}

func (p Presence) Encode() []byte {
	b, _ := json.Marshal(p)
	return b
}

// decodeJSON parses a JSON payload of at most max bytes; larger ones are
// refused unparsed (a hostile peer cannot make us allocate for them).
func decodeJSON[T any](what string, payload []byte, max int) (T, error) {
	var v T
	if len(payload) > max {
		return v, fmt.Errorf("decode %s: %d bytes, more than %d", what, len(payload), max)
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}
