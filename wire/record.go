package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// RecordReport tells the platform that a talk burst's recording is
// uploaded and where: the platform adds it to the group's history (a type
// 3 voice message {url, duration}) and to the member's audio records (wapi
// ptt/audioRecord). Neither seed has a call for a device to report a
// recording, so it travels over MQTT on the device's own tree, QoS 1, and
// the device deletes its copy only after the broker acknowledged it. A
// report may therefore arrive twice; the platform keeps one per (device,
// burst, begin).
type RecordReport struct {
	V int `json:"v"`
	// Group is the group the burst went to; GroupName its name then.
	Group     int64  `json:"group"`
	GroupName string `json:"group_name,omitempty"`
	// Burst is the voice burst id of the recording's packets.
	Burst uint32 `json:"burst"`
	// BeginMs is when the first frame was captured (Unix ms).
	BeginMs int64 `json:"begin_ms"`
	// DurationMs is the recording's length.
	DurationMs int64 `json:"duration_ms"`
	// URL is where the file-upload put the Ogg Opus file.
	URL string `json:"url"`
}

// MaxRecordSize bounds a report payload.
const MaxRecordSize = 4096

func (r RecordReport) Encode() []byte {
	r.V = 1
	b, _ := json.Marshal(r)
	return b
}

// DecodeRecordReport parses and checks a report.
func DecodeRecordReport(payload []byte) (RecordReport, error) {
	r, err := decodeJSON[RecordReport]("record", payload, MaxRecordSize)
	if err != nil {
		return r, err
	}
	switch {
	case r.V != 1:
		return RecordReport{}, fmt.Errorf("decode record: version %d not supported", r.V)
	case r.Group <= 0:
		return RecordReport{}, errors.New("decode record: no group")
	case r.BeginMs <= 0 || r.DurationMs < 0 || r.DurationMs > 24*3600*1000:
		return RecordReport{}, fmt.Errorf("decode record: begin %d, duration %d ms", r.BeginMs, r.DurationMs)
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return RecordReport{}, fmt.Errorf("decode record: url %q is not an http(s) URL", r.URL)
	}
	return r, nil
}

// Record carries the device's recording reports, QoS 1.
func (t Topics) Record() string { return t.dev("record") }

// AllRecords is the platform's subscription to every device's reports.
func AllRecords(prefix string) string { return prefix + "/dev/+/record" }

// Text messages reach a handset as a platform event on its own event topic
// (Topics.Event), like every other platform push, in both dialects:
//
//	{"msg_id":173614431,"msg_type":"corp-group-message","timestamp":1736146058,"transfer":true,
//	 "content":{"group":{"id":80000528,"name":"Patrol"},
//	            "message":{"msg_id":173614430,"user_id":1253539,"created":1736146058,"type":0,"content":"Gate 3 is open"},
//	            "user":{"user_id":1253539,"user_num":"70014117","name":"Dispatch"}}}
//
// message is a message-get-group-history-message item (type 0 text); user
// names its sender as that call's users list does.
const EventGroupMessage = "corp-group-message"

// GroupMessage is the content of an EventGroupMessage.
type GroupMessage struct {
	Group struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"group"`
	Message struct {
		MsgID   int64           `json:"msg_id"`
		UserID  int64           `json:"user_id"`
		Created int64           `json:"created"`
		Type    int             `json:"type"`
		Content json.RawMessage `json:"content"`
	} `json:"message"`
	User struct {
		UserID  int64  `json:"user_id"`
		UserNum string `json:"user_num"`
		Name    string `json:"name"`
	} `json:"user"`
}

// Text returns the message's text when it is a text message (type 0).
func (m GroupMessage) Text() (string, bool) {
	if m.Message.Type != 0 {
		return "", false
	}
	// A pointer, so that a null content is no text (FuzzDecodeGroupMessage).
	var s *string
	if err := json.Unmarshal(m.Message.Content, &s); err != nil || s == nil {
		return "", false
	}
	return *s, true
}

// DecodeGroupMessage reads an EventGroupMessage's content.
func DecodeGroupMessage(content json.RawMessage) (GroupMessage, error) {
	var m GroupMessage
	if err := json.Unmarshal(content, &m); err != nil {
		return GroupMessage{}, fmt.Errorf("decode group message: %w", err)
	}
	if m.Group.ID <= 0 {
		return GroupMessage{}, errors.New("decode group message: no group id")
	}
	return m, nil
}
