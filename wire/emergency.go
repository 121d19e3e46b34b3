package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Emergency messages: a handset's SOS alert, its cancellation, and the
// platform's acknowledgement of each. Neither seed has a call for a device
// to raise an alarm (seed 003 §3.1 is the platform reporting an event to a
// third party), so it travels on the device's own tree like its tracks:
// QoS 1, kept on the handset's disk until the platform — not only the
// broker — has acknowledged it, and sent again until then. A broker
// acknowledges a message it may still drop for want of a subscriber; an
// alert must reach the platform.
type EmergencyType string

const (
	EmergencyAlert  EmergencyType = "alert"  // device: the user long-pressed the SOS key
	EmergencyCancel EmergencyType = "cancel" // device: the user cancelled the alert (a second long press)
	EmergencyAck    EmergencyType = "ack"    // platform: it has the device's Of message of alert ID
)

// Emergency is one emergency message. Fields that do not belong to Type
// are left zero and omitted.
type Emergency struct {
	V    int           `json:"v"`
	Type EmergencyType `json:"type"`
	// ID names the alert: chosen by the device, unique among its alerts.
	// The cancel and the platform's acks carry the same ID; the platform
	// keeps one of each (device, ID, Type), so a message sent again is
	// acknowledged again and recorded once.
	ID string `json:"id"`
	// Of (ack) is the type of the message acknowledged.
	Of EmergencyType `json:"of,omitempty"`
	// Group (alert) is the group that was active at the press, whose floor
	// the handset takes; 0 when it had none.
	Group int64 `json:"group,omitempty"`
	// Fix (alert, cancel) is where the handset was at the press: its
	// current fix or its last one, with its age; nil when it has had none
	// since it started.
	Fix *EmergencyFix `json:"fix,omitempty"`
	// TimeMs is when the key was pressed (device) or the message received
	// (ack): Unix ms.
	TimeMs int64 `json:"ts"`
}

// EmergencyFix is a position in an alert. Units follow the seeds (speed
// km/h, altitude m, bearing degrees); a field the receiver did not give is
// absent.
type EmergencyFix struct {
	Latitude  float64  `json:"latitude"`
	Longitude float64  `json:"longitude"`
	Speed     *float64 `json:"speed,omitempty"`
	Altitude  *float64 `json:"altitude,omitempty"`
	Bearing   *float64 `json:"bearing,omitempty"`
	Sats      int      `json:"sats,omitempty"`
	Mode      int      `json:"mode"` // 2 = 2D, 3 = 3D
	// Created is when the position was measured (Unix s).
	Created int64 `json:"created"`
	// Age is how old the position was at the press, in seconds: 0 or 1
	// for a current fix, more for the last one before the sky was lost.
	Age int64 `json:"age"`
}

// MaxEmergencySize bounds an emergency payload; larger ones are refused
// unparsed.
const MaxEmergencySize = 4096

// MaxEmergencyID bounds an alert's ID.
const MaxEmergencyID = 64

func (e Emergency) Encode() []byte {
	e.V = 1
	b, _ := json.Marshal(e)
	return b
}

// DecodeEmergency parses and checks an emergency message. The ID must be
// a short run of letters, digits, '.', '_' and '-': the handset names its
// files after it, and the platform logs it.
func DecodeEmergency(payload []byte) (Emergency, error) {
	e, err := decodeJSON[Emergency]("emergency", payload, MaxEmergencySize)
	if err != nil {
		return e, err
	}
	if e.V != 1 {
		return Emergency{}, fmt.Errorf("decode emergency: version %d not supported", e.V)
	}
	if !ValidEmergencyID(e.ID) {
		return Emergency{}, fmt.Errorf("decode emergency: id %q: want 1–%d of A–Z a–z 0–9 . _ -", e.ID, MaxEmergencyID)
	}
	switch e.Type {
	case EmergencyAlert, EmergencyCancel:
		if e.TimeMs <= 0 {
			return Emergency{}, fmt.Errorf("decode emergency: %s without a time", e.Type)
		}
	case EmergencyAck:
		if e.Of != EmergencyAlert && e.Of != EmergencyCancel {
			return Emergency{}, fmt.Errorf("decode emergency: ack of %q", e.Of)
		}
	default:
		return Emergency{}, fmt.Errorf("decode emergency: unknown type %q", e.Type)
	}
	if e.Group < 0 {
		return Emergency{}, fmt.Errorf("decode emergency: group %d", e.Group)
	}
	if e.Fix != nil {
		if err := e.Fix.check(); err != nil {
			return Emergency{}, fmt.Errorf("decode emergency: fix: %w", err)
		}
	}
	return e, nil
}

func (f *EmergencyFix) check() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(f.Latitude) || f.Latitude < -90 || f.Latitude > 90:
		return fmt.Errorf("latitude %v", f.Latitude)
	case !finite(f.Longitude) || f.Longitude < -180 || f.Longitude > 180:
		return fmt.Errorf("longitude %v", f.Longitude)
	case f.Age < 0:
		return fmt.Errorf("age %d s", f.Age)
	case f.Sats < 0 || f.Mode < 0:
		return errors.New("negative sats or mode")
	}
	for _, v := range []*float64{f.Speed, f.Altitude, f.Bearing} {
		if v != nil && !finite(*v) {
			return fmt.Errorf("%v is not a number", *v)
		}
	}
	return nil
}

// ValidEmergencyID reports whether id may name an alert.
func ValidEmergencyID(id string) bool {
	if id == "" || len(id) > MaxEmergencyID || id == "." || id == ".." {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Emergency carries the device's alerts and cancels, QoS 1.
func (t Topics) Emergency() string { return t.dev("emergency") }

// EmergencyCtl carries the platform's acknowledgements to this device,
// QoS 1.
func (t Topics) EmergencyCtl() string { return t.dev("emergency/ctl") }

// AllEmergency is the platform's subscription to every device's alerts.
func AllEmergency(prefix string) string { return prefix + "/dev/+/emergency" }

// EmergencyCtlTopic is account's acknowledgement topic, for the platform.
func EmergencyCtlTopic(prefix, account string) string {
	return Topics{Prefix: prefix, Account: account}.EmergencyCtl()
}
