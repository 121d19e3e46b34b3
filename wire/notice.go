package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EventNotice is a broadcast notice (wapi accept/event: "向指定的组织，群组
// 或用户发送广播通知") for this device, on its Topics.Event like every
// platform push, in both dialects:
//
//	{"msg_id":173614440,"msg_type":"wapi-notice","timestamp":1736146058,"transfer":true,
//	 "content":{"id":7,"time":1736146058,"from":{"id":1253539,"name":"Dispatch"},
//	            "title":"Storm warning","content":"All units return to base by 18:00",
//	            "accessory":[{"name":"map.pdf","url":"https://platform.example.com/files/map.pdf"}]}}
//
// content is the accept/event body without "to" (who it was for: the
// platform resolved that to the devices it published to), plus the
// platform's id of the notice and the time it accepted it. Like a text
// message, a notice says nothing about the member's settings or groups.
const EventNotice = "wapi-notice"

// Notice is the content of an EventNotice.
type Notice struct {
	ID        int64              `json:"id"`
	Time      int64              `json:"time"` // Unix seconds
	From      NoticeFrom         `json:"from"`
	Title     string             `json:"title"`
	Content   string             `json:"content"`
	Accessory []NoticeAttachment `json:"accessory,omitempty"`
}

// NoticeFrom is who sent a notice.
type NoticeFrom struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// NoticeAttachment is one of a notice's attachments: the handset lists
// them, it does not fetch them.
type NoticeAttachment struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// DecodeNotice reads an EventNotice's content: a title or a content is
// required.
func DecodeNotice(content json.RawMessage) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(content, &n); err != nil {
		return Notice{}, fmt.Errorf("decode notice: %w", err)
	}
	if n.Title == "" && n.Content == "" {
		return Notice{}, errors.New("decode notice: neither title nor content")
	}
	return n, nil
}
