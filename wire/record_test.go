package wire

import (
	"strings"
	"testing"
)

func TestRecordReport(t *testing.T) {
	r := RecordReport{Group: 80000528, GroupName: "Patrol", Burst: 0xdeadbeef, BeginMs: 1763712000123, DurationMs: 4380,
		URL: "http://127.0.0.1:8088/files/dev-1_1763712000123_deadbeef.opus"}
	b := r.Encode()
	if !strings.HasPrefix(string(b), `{"v":1,"group":80000528,"group_name":"Patrol","burst":3735928559,"begin_ms":1763712000123,"duration_ms":4380,"url":`) {
		t.Errorf("encoded %s", b)
	}
	got, err := DecodeRecordReport(b)
	r.V = 1
	if err != nil || got != r {
		t.Errorf("round trip %+v %v", got, err)
	}
	if (Topics{Prefix: "ptt", Account: "dev-1"}).Record() != "ptt/dev/dev-1/record" || AllRecords("ptt") != "ptt/dev/+/record" {
		t.Error("record topics")
	}
	for _, s := range []string{
		``, `[]`, `{"v":2,"group":1,"begin_ms":1,"url":"http://h/f"}`,
		`{"v":1,"begin_ms":1,"url":"http://h/f"}`,
		`{"v":1,"group":1,"url":"http://h/f"}`,
		`{"v":1,"group":1,"begin_ms":1,"duration_ms":-1,"url":"http://h/f"}`,
		`{"v":1,"group":1,"begin_ms":1,"url":"file:///etc/passwd"}`,
		`{"v":1,"group":1,"begin_ms":1,"url":"javascript:alert(1)"}`,
		`{"v":1,"group":1,"begin_ms":1,"url":"http://h/f","pad":"` + strings.Repeat("x", MaxRecordSize) + `"}`,
	} {
		if r, err := DecodeRecordReport([]byte(s)); err == nil {
			t.Errorf("%.60s accepted as %+v", s, r)
		}
	}
}

func FuzzDecodeRecordReport(f *testing.F) {
	f.Add(RecordReport{Group: 1, BeginMs: 2, DurationMs: 3, URL: "https://p/x"}.Encode())
	f.Add([]byte(`{"v":1,"group":1,"begin_ms":1,"url":"http://"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecordReport(b)
		if err != nil {
			return
		}
		if r.Group <= 0 || r.BeginMs <= 0 || r.DurationMs < 0 {
			t.Fatalf("accepted %+v", r)
		}
		back, err := DecodeRecordReport(r.Encode())
		if err != nil || back != r {
			t.Fatalf("round trip %+v %v", back, err)
		}
	})
}

// A text message event as pttsim sends it.
const textEvent = `{"msg_id":173614431,"msg_type":"corp-group-message","timestamp":1736146058,"transfer":true,
 "content":{"group":{"id":80000528,"name":"Patrol"},
            "message":{"msg_id":173614430,"user_id":1253539,"created":1736146058,"type":0,"content":"Gate 3 is open"},
            "user":{"user_id":1253539,"user_num":"70014117","name":"Dispatch"}}}`

func TestGroupMessage(t *testing.T) {
	e, err := DecodeEvent([]byte(textEvent))
	if err != nil || e.MsgType != EventGroupMessage {
		t.Fatal(e, err)
	}
	m, err := DecodeGroupMessage(e.Content)
	if err != nil {
		t.Fatal(err)
	}
	text, ok := m.Text()
	if !ok || text != "Gate 3 is open" || m.Group.ID != 80000528 || m.User.Name != "Dispatch" || m.Message.MsgID != 173614430 {
		t.Errorf("%+v %q", m, text)
	}
	// Not text: a voice message (type 3) is not read out.
	voice := strings.Replace(textEvent, `"type":0,"content":"Gate 3 is open"`, `"type":3,"content":{"url":"http://x","duration":8}`, 1)
	e, _ = DecodeEvent([]byte(voice))
	if m, err := DecodeGroupMessage(e.Content); err != nil {
		t.Error(err)
	} else if _, ok := m.Text(); ok {
		t.Error("a voice message read as text")
	}
	for _, s := range []string{`{}`, `{"group":{"id":0}}`, `[1]`, `{"group":{"id":"x"}}`} {
		if _, err := DecodeGroupMessage([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}
