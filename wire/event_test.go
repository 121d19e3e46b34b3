package wire

import (
	"strings"
	"testing"
)

// The seed's event, verbatim.
const seedEvent = `{
	"content": {
		"group": {
			"avatar": "http://weilacorp.oss-cn-shenzhen.aliyuncs.com/corp/100073/g/80010090/a/707546dd.jpg?v=1731493671",
			"burst_mode": 0, "created": 1730452310, "creator": 1253444, "id": 80010090, "member_version": 2,
			"name": "测试群3", "org_num": 100073, "shutup": 0, "type": 17, "user_count": 1
		}
	},
	"msg_id": 486,
	"msg_type": "corp-group-change",
	"timestamp": 1731493671,
	"transfer": true
}`

func TestDecodeSeedEvent(t *testing.T) {
	e, err := DecodeEvent([]byte(seedEvent))
	if err != nil {
		t.Fatal(err)
	}
	if e.MsgID != 486 || e.MsgType != EventGroupChange || e.Timestamp != 1731493671 || !e.Transfer || !strings.Contains(string(e.Content), `"member_version": 2`) {
		t.Errorf("%+v", e)
	}
	back, err := DecodeEvent(e.Encode())
	if err != nil || back.MsgID != e.MsgID || back.MsgType != e.MsgType {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if got := (Topics{Prefix: "ptt", Account: "dev-1"}).Event(); got != "ptt/dev/dev-1/event" || EventTopic("ptt", "dev-1") != got {
		t.Errorf("event topic %q", got)
	}
}

func TestDecodeEventRefusesJunk(t *testing.T) {
	for _, s := range []string{``, `null`, `[]`, `{}`, `{"msg_id":1}`, `{"msg_type":"x"}`, `{"msg_id":1,"msg_type":"x","content":[1]}`,
		`{"msg_id":"1","msg_type":"x"}`, `{"msg_id":1,"msg_type":"x","content":"text"}`, strings.Repeat(" ", MaxEventSize+1)} {
		if _, err := DecodeEvent([]byte(s)); err == nil {
			t.Errorf("accepted %.40q", s)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(seedEvent))
	f.Add([]byte(`{"msg_id":1,"msg_type":"corp-member-change","content":{"member":{"user_id":1}}}`))
	f.Add([]byte(`{"msg_id":1,"msg_type":"wapi-user-update","content":{"id":[1,2]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if e.MsgID == 0 || e.MsgType == "" {
			t.Fatalf("accepted an event without id or type: %+v", e)
		}
		if _, err := DecodeEvent(e.Encode()); err != nil {
			t.Fatalf("re-encoded event refused: %v", err)
		}
	})
}
